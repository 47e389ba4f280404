"""TLS for RabbitMQ (amqps://) and Redis (rediss://): the server is verified against a CA
bundle (the system's when none is given), and a client certificate is presented when one is."""

import ssl
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def redis_arguments(self) -> dict[str, str]:
        """The same, as redis-py's connection arguments for a rediss:// URL."""
        given = {
            "ssl_ca_certs": self.ca_file,
            "ssl_certfile": self.cert_file,
            "ssl_keyfile": self.key_file,
        }
        return {name: value for name, value in given.items() if value}
