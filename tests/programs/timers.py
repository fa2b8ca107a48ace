"""Waits that a timer ends: none of them is a deadlock, although the wait itself has no timeout.

    python timers.py MODE [START_METHOD]

MODE:
  handler      signal.alarm() around p.join() of a child that never ends; the handler raises
  setitimer    the same with setitimer(ITIMER_REAL)
  posix        the same with a timer_create() timer (through ctypes)
  child-alarm  a child arms alarm() with the default action: SIGALRM ends it, the join returns
  fired        alarm() whose handler returns: after it fired, the program is stuck for good
"""

import ctypes
import ctypes.util
import multiprocessing
import signal
import sys


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout


def wait_forever(event):
    event.wait()


def alarm_then_wait(event):
    signal.alarm(2)  # default action: this process ends when it fires
    event.wait()


def posix_timer(seconds):
    """A one-shot CLOCK_MONOTONIC timer that sends SIGALRM to this process."""

    class SigEvent(ctypes.Structure):
        _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int),
                    ("notify", ctypes.c_int), ("pad", ctypes.c_byte * 48)]

    class Timespec(ctypes.Structure):
        _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]

    class Itimerspec(ctypes.Structure):
        _fields_ = [("interval", Timespec), ("value", Timespec)]

    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    timer = ctypes.c_void_p()
    ev = SigEvent(signo=int(signal.SIGALRM), notify=0)  # SIGEV_SIGNAL
    assert rt.timer_create(1, ctypes.byref(ev), ctypes.byref(timer)) == 0
    spec = Itimerspec(value=Timespec(int(seconds), int((seconds % 1) * 1e9)))
    assert rt.timer_settime(timer, 0, ctypes.byref(spec), None) == 0


def main():
    mode = sys.argv[1]
    ctx = multiprocessing.get_context(sys.argv[2] if len(sys.argv) > 2 else None)
    event = ctx.Event()
    target = alarm_then_wait if mode == "child-alarm" else wait_forever
    p = ctx.Process(target=target, args=(event,))
    p.start()
    if mode in ("handler", "setitimer", "posix"):
        signal.signal(signal.SIGALRM, on_alarm)
        if mode == "handler":
            signal.alarm(2)
        elif mode == "setitimer":
            signal.setitimer(signal.ITIMER_REAL, 1.5)
        else:
            posix_timer(1.5)
        try:
            p.join()
        except Timeout:
            print("timed out; stopping the child", flush=True)
            p.terminate()
            p.join()
    elif mode == "child-alarm":
        p.join()
        print(f"child ended by signal {-p.exitcode}", flush=True)
    elif mode == "fired":
        signal.signal(signal.SIGALRM, lambda *a: print("alarm", flush=True))
        signal.alarm(1)
        p.join()  # the handler returns: the join goes on waiting, for ever
    print("done", flush=True)


if __name__ == "__main__":
    main()
