"""The server side of HTTPS: a certificate and key from files, re-read when they change (a rotated Secret).

Kubernetes updates a mounted Secret by swapping a symlink, so both files change at once; cert-manager renews a
``kubernetes.io/tls`` Secret well before expiry. The server holds one :class:`ssl.SSLContext`
(:attr:`ServerCertificate.context`) for every connection and calls :meth:`ServerCertificate.refresh` every
:data:`CHECK_EVERY_S` seconds on its event loop: two ``stat`` calls compare the files' (mtime, size, inode) with
those of the last load, and only when they differ are the files loaded — first into a scratch context, and only
if that succeeds into the serving one, so a change that does not load (a half-written file, a key that does not
match the certificate) keeps the previous certificate serving and is logged once, not once per check. New
handshakes use the new certificate; connections already open keep theirs.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

from forecastscale.edge import escaped
from forecastscale.errors import ConfigError

log = logging.getLogger("forecastscale.http")

CHECK_EVERY_S = 1.0  # how often the files are stat()ed for a rotation
Stamp = tuple[tuple[int, int, int], ...]


class ServerCertificate:
    """A TLS server context from PEM ``cert_file`` (the chain, leaf first) and ``key_file``, HTTP/1.1 only.

    Raises :class:`ConfigError` naming both files if they cannot be loaded now (at start, a bad certificate must
    stop the service; after that, a bad rotation only keeps the old one).
    """

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self._seen = self._stamp()
        self.context = self._loaded(_new_context())

    def refresh(self) -> bool:
        """Load the files into :attr:`context` if they changed since the last load; whether it did."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp  # tried once per change: a broken rotation is not retried every check
        try:
            self._loaded(_new_context())  # the files as they are now load: only then touch the serving context
            self._loaded(self.context)
        except ConfigError as exc:
            log.warning("keeping the previous TLS certificate: %s", escaped("; ".join(exc.problems)))
            if self._stamp() != stamp:  # changed again between the two loads: the serving context may be
                self._seen = None  # half-loaded, so load again at the next check
            return False
        log.info("reloaded TLS certificate %s", escaped(str(self.cert_file)))
        return True

    def _stamp(self) -> Stamp | None:
        """(mtime ns, size, inode) of both files, following symlinks; None while one is missing (mid-swap)."""
        try:
            stats = [os.stat(p) for p in (self.cert_file, self.key_file)]
        except OSError:
            return None
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)

    def _loaded(self, context: ssl.SSLContext) -> ssl.SSLContext:
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:  # missing/unreadable file, not PEM, key not the certificate's
            raise ConfigError("service", [f"tls_cert_file, tls_key_file: cannot load certificate "
                                          f"{str(self.cert_file)!r} with key {str(self.key_file)!r}: "
                                          f"{getattr(exc, 'strerror', None) or exc}"]) from exc
        return context


def _new_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # server side, no client certificates
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])  # one protocol, the one the limits here are measured on
    return context
