// The yardstick of bench/fanout.py --reference node: the official Node.js socket.io
// server, in memory, `io.to(room).emit`, speaking the hub's `message:send` just enough
// for the same load generator to drive it. Nothing is stored; every connection joins
// one room; a send is acked and pushed to the whole room, the sender included, with a
// message shaped like the hub's (same fields, so the frames are the same size).
//
//   node bench/node_reference/server.js PORT
//
// socket.io's defaults stand (pingInterval 25 s, pingTimeout 20 s, no per-message
// deflate), as they do in the hub.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const server = http.createServer();
const io = new Server(server, { serveClient: false });

let nextId = 1;
let seq = 0;
const sender = { id: 1, username: "bench", display_name: "bench" };

io.on("connection", (socket) => {
  if (!socket.handshake.auth || !socket.handshake.auth.token) {
    socket.disconnect(true);
    return;
  }
  socket.join("channel");
  socket.on("message:send", (data, ack) => {
    if (typeof ack !== "function" || !data || typeof data.text !== "string") return;
    seq += 1;
    const message = {
      id: nextId++,
      channel_id: data.channel_id,
      seq,
      change_seq: seq,
      sender,
      kind: "text",
      text: data.text,
      file: null,
      card: null,
      mentions: [],
      client_msg_id: data.client_msg_id,
      thread_root_id: null,
      created_at: new Date().toISOString(),
      edited_at: null,
      recalled: false,
    };
    ack({ ok: true, message });
    io.to("channel").emit("message", message);
  });
  socket.on("typing", (data) => {
    socket.to("channel").emit("typing", { channel_id: data && data.channel_id, user_id: 1 });
  });
});

server.listen(port, "127.0.0.1");
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
