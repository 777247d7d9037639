#!/usr/bin/env bash
# Writes the loopback TLS test material in tests/data/tls/: a test CA and a server certificate
# for 127.0.0.1 / localhost signed by it (valid for 100 years), plus a second, unrelated CA for
# negative tests. Run once; the outputs are committed (they are ours and small).
set -euo pipefail
out=${1:-"$(dirname "$0")/../tests/data/tls"}
mkdir -p "$out"
cd "$out"
days=36500
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days $days \
  -subj "/CN=llmux test CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
  -subj "/CN=127.0.0.1" 2>/dev/null
cat > server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days $days -extfile server.ext 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days $days \
  -subj "/CN=llmux unrelated CA" 2>/dev/null
rm -f server.csr server.ext ca.srl ca.key other-ca.key
echo "wrote $out: ca.pem server.pem server.key other-ca.pem"
