"""The kernel's stamp of when each write to a TCP socket left this host (SO_TIMESTAMPING, software TX stamps).

A request's time to first byte runs from when it left to when the answer arrived. The answer's arrival is the
kernel's receive stamp (receive_stamps.py); the departure, read off the clock before the write, is late by as
long as the worker is preempted between that reading and the send (on a busy 2-core machine, now and then a few
ms, read as the target's latency). The kernel stamps the bytes as it hands them to the device and queues the
stamp on the socket's error queue, where `read_latest` takes it (on loopback and most drivers it is there when
the send returns; a later one is taken with the next read, so the error queue never wakes the loop in vain).
Elsewhere than Linux, or where the option fails, there is no stamp and the reading before the write stands.
"""

from __future__ import annotations

import socket
import struct

from prober.http import receive_stamps

SO_TIMESTAMPING = 37  # = SCM_TIMESTAMPING (SO_TIMESTAMPING_OLD) on the architectures of receive_stamps
TX_SOFTWARE, SOFTWARE, OPT_TSONLY = 1 << 1, 1 << 4, 1 << 11
FLAGS = TX_SOFTWARE | SOFTWARE | OPT_TSONLY  # stamp sends in software, report them, without the bytes sent
ERRQUEUE_CMSG_SPACE = 512  # a stamp (3 timespecs), the extended error and the receive stamp the socket also asks
RECEIVE_CMSG_SPACE = receive_stamps.CMSG_SPACE + (socket.CMSG_SPACE(48) if hasattr(socket, "CMSG_SPACE") else 0)
"""What a read of a socket with send stamps needs: the kernel adds its SCM_TIMESTAMPING to the receive stamp."""
MAX_DRAINED = 64  # stamps taken per call: the error queue holds one per write, and a probe writes a few times


def enable(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what `sock` sends; False where it cannot."""
    if not receive_stamps.AVAILABLE:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, FLAGS)
    except OSError:
        return False
    return True


def read_latest(sock: socket.socket) -> int | None:
    """Empty the socket's error queue of send stamps; the latest one's wall-clock nanoseconds, None if none."""
    latest: int | None = None
    for _ in range(MAX_DRAINED):
        try:
            _data, ancillary, _flags, _address = sock.recvmsg(0, ERRQUEUE_CMSG_SPACE,
                                                              socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except OSError:  # BlockingIOError: empty
            return latest
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(data) >= 16:
                seconds, nanoseconds = struct.unpack("qq", data[:16])  # the software stamp comes first
                if seconds or nanoseconds:
                    latest = int(seconds) * 1_000_000_000 + int(nanoseconds)
    return latest
