"""The kernel's receive stamp of each read from a socket (SO_TIMESTAMPNS), and its place on perf_counter's clock.

A probe's answer is timed by when it reached this host, not when a busy event loop read it: the TCP connection
of the http, tcp, tls and dns checks, the dns check's UDP socket and the icmp check's socket all ask the kernel
to stamp what they receive and read it with recvmsg. Elsewhere than Linux (or where the option fails) there is
no stamp, and a read's moment stands in for it.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD (= SCM_TIMESTAMPNS) on every Linux architecture but alpha, mips,
AVAILABLE = sys.platform == "linux"  # parisc and sparc, where setsockopt fails or no cmsg of this type comes
CMSG_SPACE = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 0
"""The ancillary buffer that recvmsg needs for one stamp (a struct timespec)."""

Ancillary = list[tuple[int, int, bytes]]


def enable(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what `sock` receives; False where it cannot (read with recv then)."""
    if not AVAILABLE:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def stamp_wall_ns(ancillary: Ancillary) -> int | None:
    """The stamp that came with a read (of its latest segment), in wall-clock nanoseconds; None without one."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) in (8, 16):
            seconds, nanoseconds = struct.unpack("qq" if len(data) == 16 else "ii", data)
            return int(seconds) * 1_000_000_000 + int(nanoseconds)
    return None


def arrival(ancillary: Ancillary) -> float:
    """The perf_counter time at which the kernel stamped a read (now, without a stamp)."""
    wall_ns = stamp_wall_ns(ancillary)
    return time.perf_counter() if wall_ns is None else perf_of_wall_ns(wall_ns)


def perf_of_wall_ns(wall_ns: int) -> float:
    """The perf_counter time of a past wall-clock moment (a kernel stamp), never later than now nor over 60 s ago.

    The wall clock is read between two readings of perf_counter and the pair with the tightest bracket of three
    tries is used: a process preempted between two plain readings (2.4 ms on a loaded CI machine) would move
    the answer earlier by as long as it waited, and a probe would read faster than its target.
    """
    best_gap_ns, best_wall_ns, best_perf_ns = -1, 0, 0
    for _ in range(3):
        before_ns = time.perf_counter_ns()
        now_wall_ns = time.time_ns()
        after_ns = time.perf_counter_ns()
        gap_ns = after_ns - before_ns
        if best_gap_ns < 0 or gap_ns < best_gap_ns:
            best_gap_ns, best_wall_ns, best_perf_ns = gap_ns, now_wall_ns, (before_ns + after_ns) // 2
        if gap_ns < 50_000:
            break
    age_ns = min(max(best_wall_ns - wall_ns, 0), 60_000_000_000)  # a wall-clock step never makes it later than now
    return (best_perf_ns - age_ns) / 1e9
