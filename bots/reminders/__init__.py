"""备忘提醒: `/remind 明天9点 参加安全生产会议`, answered by 提醒助手 (docs/bots.md)."""
