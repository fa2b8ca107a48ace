"""The queue buffer of hooks/queues.py: it looks at the first SAMPLE puts of a queue only, then
puts run at deque's own speed -- also when the same object is put again and again."""

from __future__ import annotations

from collections import deque

from mpdoctor.hooks import queues


def test_the_buffer_stops_looking_after_its_sample_even_for_one_object_put_again():
    buffer = queues._site_deque_class()(pipe=None)
    item = b"x" * 4096  # one object, put again and again (as put(1), put(same_bytes) do)

    def put():  # a caller frame of user code (this test file)
        buffer.append(item)

    looked = []
    for _ in range(buffer.SAMPLE + 10):
        looked.append("append" not in vars(buffer))
        put()
    assert looked == [True] * buffer.SAMPLE + [False] * 10
    assert vars(buffer)["append"] == deque.append.__get__(buffer)  # C speed from then on
    assert len(buffer) == buffer.SAMPLE + 10 and buffer.sampled == buffer.SAMPLE
    assert len(buffer.seen) == 1  # one call site, seen once

