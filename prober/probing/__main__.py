"""`python -m prober.probing --events-fd N --parent PID`: a probe worker (see prober.probing.worker).

Before the worker imports anything heavy, it asks Linux to SIGKILL it when the agent dies, so that not even a
worker stuck while it starts outlives the agent (stdin's end, the other signal, needs a running loop).
"""

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

with contextlib.suppress(OSError, AttributeError, ValueError, IndexError):
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(sys.argv[sys.argv.index("--parent") + 1]):  # the agent died before prctl held
        os._exit(1)

# grpc's C core writes its own lines to stderr (every failed TLS handshake): they would break the agent's JSON log;
# a grpc check's failures are its runs' reasons and details
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from prober.probing.worker import main  # noqa: E402 - after prctl, on purpose

raise SystemExit(main())
