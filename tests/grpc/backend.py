"""A gRPC backend for the gateway's tests (grpcio, no generated code: methods take and return
raw bytes). Every call verifies the gateway's mapped JWT (x-identity-jwt) with PyJWT against the
gateway's /pa/authtoken/JWKS, whose base URL it reads from the file named on the command line.
With a certificate and a key after it, it serves over TLS (HTTP/2 by ALPN)."""
import json
import sys
import urllib.request
from concurrent import futures

import grpc
import jwt

BASE_FILE = sys.argv[1]


def subject(context):
    metadata = dict(context.invocation_metadata())
    token = metadata.get("x-identity-jwt")
    if token is None:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no x-identity-jwt")
    base = open(BASE_FILE).read().strip()
    jwks = json.load(urllib.request.urlopen(base + "/pa/authtoken/JWKS"))
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"])
    claims = jwt.decode(token, key.key, algorithms=[header["alg"]],
                        audience="backend", issuer="signet-gateway")
    return claims["sub"]


def unary(request, context):
    return b"hello " + subject(context).encode() + b": " + request


def server_stream(request, context):
    sub = subject(context)
    for i in range(5):
        yield f"{sub} {i}".encode()


def bidi(requests, context):
    sub = subject(context)
    for message in requests:
        yield sub.encode() + b" echoes " + message


methods = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Stream": grpc.unary_stream_rpc_method_handler(server_stream),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
}
# The same service under two names, so that the gateway can route each to another backend.
handlers = [grpc.method_handlers_generic_handler(name, methods) for name in ("test.Echo", "tls.Echo")]
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers(handlers)
if len(sys.argv) > 3:
    # TLS (for backend_protocol = "h2"): certificate chain and key, PEM.
    credentials = grpc.ssl_server_credentials(
        [(open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read())])
    port = server.add_secure_port("127.0.0.1:0", credentials)
else:
    port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
server.wait_for_termination()
