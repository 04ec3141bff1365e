"""The go-plugin side: handshake line, mutual TLS, gRPC server, and a prompt exit on shutdown."""

from __future__ import annotations

import base64
import datetime
import os
import sys
import tempfile
import threading
from concurrent import futures

# Terraform starts a plugin with this cookie in its environment; anything else is a person
# running the executable by hand.
MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 6  # tfplugin6


def _server_certificate() -> tuple[bytes, bytes, bytes]:
    """A fresh self-signed certificate for "localhost": (DER, PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        cert.public_bytes(serialization.Encoding.DER),
        cert.public_bytes(serialization.Encoding.PEM),
        key_pem,
    )


def serve(provider_servicer) -> int:
    """Serve `provider_servicer` (a tfplugin6 ProviderServicer) until Terraform shuts it down."""
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        print(
            "This is a Terraform provider plugin: Terraform starts it; it is not meant to be run directly.",
            file=sys.stderr,
        )
        return 1

    import grpc
    from tf.gen import grpc_controller_pb2, grpc_controller_pb2_grpc, grpc_stdio_pb2_grpc
    from tf.gen import tfplugin_pb2_grpc

    stop = threading.Event()

    class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
        def Shutdown(self, request, context):
            stop.set()
            return grpc_controller_pb2.Empty()

    class Stdio(grpc_stdio_pb2_grpc.GRPCStdioServicer):
        def StreamStdio(self, request, context):
            return iter(())  # nothing to forward: the provider writes no output

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    tfplugin_pb2_grpc.add_ProviderServicer_to_server(provider_servicer, server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(), server)
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    cert_der, cert_pem, key_pem = _server_certificate()
    # go-plugin's automatic TLS: Terraform trusts the certificate sent in the handshake line.
    # Terraform's client certificate (PLUGIN_CLIENT_CERT) is not required: with it as the trusted
    # root and client auth required, Terraform 1.11's client sent no certificate and the TLS
    # handshake failed. The socket sits in a directory only this user can open
    # (tempfile.TemporaryDirectory is created mode 0700).
    credentials = grpc.ssl_server_credentials([(key_pem, cert_pem)])
    with tempfile.TemporaryDirectory(prefix="tfschema-") as tmp:
        socket_path = os.path.join(tmp, "plugin.sock")
        server.add_secure_port(f"unix://{socket_path}", credentials)
        server.start()
        cert_b64 = base64.b64encode(cert_der).decode().rstrip("=")
        handshake = f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{socket_path}|grpc|{cert_b64}"
        print(handshake, flush=True)
        parent = os.getppid()
        # Exit on Shutdown, or when Terraform went away without saying so.
        while not stop.wait(0.5) and os.getppid() == parent:
            pass
        server.stop(grace=0.2).wait()
    return 0
