// The site under test: a page with the script tag, and the script served from the
// installed package (require.resolve('sessionbeacon/sessionbeacon.min.js')).
const { createServer } = require('node:http');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const files = {
  '/': ['text/html', readFileSync(join(__dirname, 'site/index.html'))],
  '/sessionbeacon.min.js': ['text/javascript', readFileSync(require.resolve('sessionbeacon/sessionbeacon.min.js'))],
};
createServer((req, res) => {
  const file = files[req.url];
  res.writeHead(file ? 200 : 404, { 'content-type': file ? file[0] : 'text/plain' });
  res.end(file ? file[1] : 'not found');
}).listen(Number(process.argv[2]), '127.0.0.1');
