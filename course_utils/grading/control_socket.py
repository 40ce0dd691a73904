"""A process whose stdin is a Unix socket to the one that started it: how a batch talks to its helpers.

A batch's kernel zygote (:class:`.kernel_zygote.SharedZygote`) and its worker
factory (:class:`.worker_factory.WorkerFactory`) are started so, since what they
are sent comes with file descriptors (a worker's line, a worker's socket and
log), which only a Unix socket carries. Standard library only.
"""
from __future__ import annotations

import os
import socket
import subprocess


def start_with_control_socket(command: list[str], **popen) -> tuple[subprocess.Popen, socket.socket]:
    """Start ``command`` (``popen``: :class:`subprocess.Popen`'s other arguments) with one end of a socket pair
    as its stdin; return the process and the other end."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(command, stdin=theirs, **popen)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return process, ours


def take_control_socket() -> socket.socket:
    """In the started process: the socket that is stdin, as a socket, with ``/dev/null`` put at fd 0 instead
    (nothing reads the control socket by accident, and no child inherits it as its stdin)."""
    control = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    return control
