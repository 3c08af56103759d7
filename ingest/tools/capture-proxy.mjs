// Records what an RTMP client sends: a TCP proxy between the client and a
// real server (e.g. `ffmpeg -listen 1 -i rtmp://127.0.0.1:PORT/live/x`),
// writing the client-to-server bytes to a file.
//   node capture-proxy.mjs LISTEN_PORT SERVER_PORT OUT.bin
import fs from 'node:fs';
import net from 'node:net';

const [listenPort, serverPort, outPath] = process.argv.slice(2);
const out = fs.createWriteStream(outPath);
const srv = net.createServer((client) => {
    const upstream = net.connect(Number(serverPort), '127.0.0.1');
    client.on('data', (d) => { out.write(d); upstream.write(d); });
    upstream.on('data', (d) => client.write(d));
    client.on('close', () => { upstream.end(); out.end(); srv.close(); });
    upstream.on('close', () => client.end());
    client.on('error', () => {});
    upstream.on('error', () => {});
});
srv.listen(Number(listenPort), '127.0.0.1');
