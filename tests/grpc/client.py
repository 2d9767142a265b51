"""A gRPC client for the gateway's tests: a unary call, a server-streaming call and a
bidirectional stream to test.Echo at the target (h2c), printing what came back as JSON."""
import json
import sys

import grpc

target, token = sys.argv[1], sys.argv[2]
method_prefix = sys.argv[3] if len(sys.argv) > 3 else "/test.Echo"
channel = grpc.insecure_channel(target)
metadata = [("authorization", "Bearer " + token), ("x-identity-jwt", "forged.by.client")] if token else []
out = {}
try:
    out["unary"] = channel.unary_unary(method_prefix + "/Unary")(
        b"world", metadata=metadata, timeout=10).decode()
    out["stream"] = [m.decode() for m in channel.unary_stream(method_prefix + "/Stream")(
        b"", metadata=metadata, timeout=10)]
    out["bidi"] = [m.decode() for m in channel.stream_stream(method_prefix + "/Bidi")(
        iter([b"a", b"b", b"c"]), metadata=metadata, timeout=10)]
except grpc.RpcError as e:
    out["error"] = {"code": e.code().name, "details": e.details()}
print(json.dumps(out))
