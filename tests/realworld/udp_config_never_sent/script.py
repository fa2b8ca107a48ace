"""A sensor worker gets its configuration as a UDP datagram from the parent on 127.0.0.1:
its socket is connected to the parent's socket, so it accepts datagrams from there only,
and it blocks in recv() until the configuration arrives.  The parent starts the worker,
then joins it, and sends the configuration only afterwards.

Rewritten from Spirent/openperf#62 (a UDP message exchange on 127.0.0.1 leaves the
receiver hanging in recvfrom()) and swiftsocket/SwiftSocket#130 (a UDP client hangs on
recv())."""
import multiprocessing as mp
import os
import socket

CTX = mp.get_context(os.environ.get("MPDOCTOR_CASE_START") or None)


def sensor(sock):
    config = sock.recv(512)            # no timeout
    print("sensor configured with", config, flush=True)


if __name__ == "__main__":
    parent_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    parent_sock.bind(("127.0.0.1", 0))
    sensor_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sensor_sock.bind(("127.0.0.1", 0))
    sensor_sock.connect(parent_sock.getsockname())
    parent_sock.connect(sensor_sock.getsockname())
    proc = CTX.Process(target=sensor, args=(sensor_sock,))
    proc.start()
    sensor_sock.close()
    proc.join()                        # BUG: the configuration is sent after the join
    parent_sock.send(b"rate=100")
