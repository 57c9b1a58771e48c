"""media: video library (HLS) and live meeting streams (not built yet)."""
