"""The wait-for graph as a picture: processes as boxes with their threads inside, an arrow from
each blocked thread to what could end its wait, the proven cycle in red.

A wait on a pipe, a socket, a shared semaphore or a set of polled fds goes through a small
node for that object ("pipe:[11632], 63,684 of 65,536 bytes full"), and from the node to the
processes that hold its other end: the object is what the thread waits *on*, its holders are
who it waits *for*, and a queue shared by 64 children stays one node instead of 64 x 64 arrows.

:func:`layout` places everything; it is a pure, deterministic function of the snapshot and its
diagnosis (the arrows are the wakers :func:`mpdoctor.diagnose.waitfor.build` finds, the very
edges the proof ran on).  :func:`render` turns a layout into SVG text.  Processes the console
report shows once (same threads and stacks) are one box here too, except those on the proven
cycle: each of them gets a box of its own, so that the cycle is drawn through real threads.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from mpdoctor.diagnose import waitfor
from mpdoctor.diagnose.describe import describe, fill, n, thread_label, who
from mpdoctor.model import Process, Snapshot, Thread, WaitKind
from mpdoctor.report.console import signature

if TYPE_CHECKING:
    from mpdoctor.diagnose import Diagnosis

# geometry, in SVG user units (px at 100 %); text is monospace, so its width is predictable
BOX_W = 330.0
HEAD_H = 40.0
ROW_H = 22.0
PAD = 8.0
NODE_W = 230.0
NODE_H = 40.0
GAP_X = 56.0
GAP_Y = 64.0
MARGIN = 28.0
COLS = 3  # boxes per line: 3 x 330 px and the gaps fit a laptop screen
CHAR_W = 6.7  # advance of one character of 11 px monospace (0.6 em, a little more)
TITLE_W = 7.5  # the same for the 12 px bold titles
LABELS = 30  # more edges than this: only the cycle's are labelled (the rest have tooltips)
LANE = 6.0  # between parallel runs of edges
DENSE = 8  # a node held by more processes than this gets no arrow to each of them


@dataclass(frozen=True)
class Row:
    """One thread inside a box."""

    key: str  # "p101/104"
    tid: int
    text: str  # what fits in the box
    detail: str  # the full description (tooltip)
    stuck: bool
    cycle: bool
    y: float  # top


@dataclass(frozen=True)
class Box:
    """One process, or a group of processes with the same threads and stacks."""

    key: str  # "p101"
    pids: Tuple[int, ...]  # the one shown first
    title: str
    sub: str
    rows: Tuple[Row, ...]
    x: float
    y: float
    w: float
    h: float
    cycle: bool
    zombie: bool


@dataclass(frozen=True)
class Node:
    """What blocked threads wait on: a pipe, a socket, a shared semaphore, a set of fds."""

    key: str  # "r:write:pipe:[9]"
    title: str
    sub: str
    detail: str
    x: float
    y: float
    w: float
    h: float
    cycle: bool


@dataclass(frozen=True)
class Edge:
    src: str  # a row, or a node
    dst: str  # a box, a row, or a node
    kind: str  # "wait" (thread -> process or node), "lock" (thread -> thread), "holder"
    label: str
    detail: str
    d: str  # SVG path data
    lx: float
    ly: float
    show_label: bool
    cycle: bool


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    boxes: Tuple[Box, ...]
    nodes: Tuple[Node, ...]
    edges: Tuple[Edge, ...]
    closed: bool  # the highlighted chain is a closed cycle


# --------------------------------------------------------------------------------------------
# grouping, shared with the HTML report's list of processes


def process_groups(snapshot: Snapshot, alone: Iterable[int] = ()) -> List[Tuple[Process, ...]]:
    """Processes with the same threads and stacks together (as the console report shows them),
    in the order of their first member; every pid in ``alone`` is a group of its own."""
    single = set(alone)
    groups: Dict[Tuple, List[Process]] = {}
    for p in snapshot.processes:
        key = ("pid", p.pid) if p.pid in single else ("same", signature(p))
        groups.setdefault(key, []).append(p)
    return [tuple(g) for g in groups.values()]


def chain_pids(diagnosis: Optional["Diagnosis"]) -> Tuple[int, ...]:
    return tuple(dict.fromkeys(link.pid for link in diagnosis.chain)) if diagnosis else ()


# --------------------------------------------------------------------------------------------
# the graph, before it is placed


def _fit(text: str, width: float, char: float = CHAR_W) -> str:
    most = max(4, int(width / char))
    return text if len(text) <= most else text[:most - 1] + "\u2026"


def _threads(p: Process) -> Tuple[Thread, ...]:
    return tuple(t for t in p.threads
                 if t.tid == p.pid or t.state not in waitfor.DEAD_THREAD_STATES)


def short_wait(snapshot: Snapshot, t: Thread) -> str:
    """A few words for a thread's wait: ``wait4 child 3794``, ``write 40,030 B pipe:[9]``."""
    w = t.wait
    timeout = "" if w.indefinite else ", timeout"
    if w.kind is WaitKind.CHILD:
        return f"wait4 {who(snapshot, w.pid)}" if w.pid and w.pid > 0 else "wait4 any child"
    if w.kind is WaitKind.WRITE:
        size = f" {n(w.count)} B" if w.count is not None else ""
        return f"write{size} {w.target or f'fd {w.fd}'}"
    if w.kind is WaitKind.READ:
        return f"read {w.target or f'fd {w.fd}'}"
    if w.kind is WaitKind.POLL:
        return f"poll {len(w.fds)} fd{'s' if len(w.fds) != 1 else ''}{timeout}"
    if w.kind is WaitKind.FUTEX:
        return ("lock" if w.private else "semaphore") + timeout
    if w.kind is WaitKind.SLEEP:
        return "sleeps"
    if w.kind is WaitKind.RUNNING:
        return "running"
    return w.syscall or w.kind.value


def _node_for(snapshot: Snapshot, t: Thread, holders: int) -> Tuple[str, str, str, str]:
    """(key, title, sub, detail) of the object a thread's wait goes through."""
    w = t.wait
    many = f"{holders} process{'es' if holders != 1 else ''}"
    if w.kind is WaitKind.FUTEX:
        mapping = snapshot.shared_by_key.get(w.shared_key)
        named = mapping is not None and mapping.named
        sub = ("named: any process may open it" if named
               else f"mapped by {many}")
        path = mapping.path if mapping is not None and mapping.path else w.shared_key
        return (f"r:sem:{w.shared_key}", "semaphore", sub,
                f"semaphore in shared memory {path}; its waiters can be woken by {many}")
    if w.kind is WaitKind.POLL:
        fds = ", ".join(f.target or f"fd {f.fd}" for f in w.fds)
        key = "r:poll:" + ",".join(f"{f.target}{'<' if f.want_read else ''}"
                                   f"{'>' if f.want_write else ''}" for f in w.fds)
        return key, "poll", fds, f"polled: {fds}; only {many} can end the wait"
    target = w.target or f"fd {w.fd}"
    pipe = waitfor.pipe_of(snapshot, w.target)
    if w.kind is WaitKind.WRITE:
        level = fill(pipe)
        return (f"r:write:{target}", target, level or f"read end: {many}",
                f"{target}{f' ({level})' if level else ''}; its read end is held by {many}")
    empty = "empty" if pipe is not None and pipe.pending == 0 else ""
    return (f"r:read:{target}", target, empty or f"write end: {many}",
            f"{target}{f' ({empty})' if empty else ''}; its write end is held by {many}")


@dataclass
class _Graph:
    boxes: List[Tuple[str, Tuple[Process, ...], List[Tuple[str, Thread]]]]
    box_of: Dict[int, str]  # pid -> box key
    row_of: Dict[Tuple[int, int], str]  # (pid, tid) -> row key
    nodes: Dict[str, Tuple[str, str, str]]  # key -> (title, sub, detail)
    edges: Dict[Tuple[str, str], Tuple[str, str]]  # (src, dst) -> (kind, label)


def _graph(snapshot: Snapshot, g: waitfor.Graph, alone: Sequence[int]) -> _Graph:
    out = _Graph([], {}, {}, {}, {})
    for group in process_groups(snapshot, alone):
        rep = group[0]
        key = f"p{rep.pid}"
        rows = [(f"{key}/{t.tid}", t) for t in _threads(rep)]
        out.boxes.append((key, group, rows))
        for p in group:
            out.box_of[p.pid] = key
            # the same threads in the same order (that is what grouped them)
            for (row, _), t in zip(rows, _threads(p)):
                out.row_of[(p.pid, t.tid)] = row
    for _key, group, rows in out.boxes:
        rep = group[0]
        for row, t in rows:
            wakers = sorted(g.wakers.get(waitfor.tnode(rep.pid, t.tid), ()))
            targets = [w for w in wakers if w[1] in out.box_of]
            if not targets:
                continue
            kind = t.wait.kind
            if kind is WaitKind.FUTEX and t.wait.private:
                for w in targets:
                    dst = out.row_of.get((w[1], w[2])) if w[0] == "t" else None  # type: ignore
                    if dst is not None and dst != row:
                        out.edges.setdefault((row, dst), ("lock", "lock"))
                continue
            boxes = list(dict.fromkeys(out.box_of[w[1]] for w in targets))
            if kind in (WaitKind.READ, WaitKind.WRITE, WaitKind.POLL, WaitKind.FUTEX):
                holders = len({w[1] for w in targets})
                nkey, title, sub, detail = _node_for(snapshot, t, holders)
                out.nodes.setdefault(nkey, (title, sub, detail))
                label = {WaitKind.READ: "read", WaitKind.WRITE: "write",
                         WaitKind.POLL: "poll"}.get(kind, "wait")
                out.edges.setdefault((row, nkey), ("wait", label))
                for b in boxes:
                    out.edges.setdefault((nkey, b), ("holder", ""))
                continue
            label = "exit" if kind is WaitKind.CHILD else kind.value
            for b in boxes:
                out.edges.setdefault((row, b), ("wait", label))
    return out


def _cycle(gr: _Graph, diagnosis: Optional["Diagnosis"]) -> Tuple[Set[str], Set[Tuple[str, str]]]:
    """The rows, boxes, nodes and edges the diagnosis' chain runs through."""
    parts: Set[str] = set()
    edges: Set[Tuple[str, str]] = set()
    if diagnosis is None:
        return parts, edges
    links = list(diagnosis.chain)
    for link in links:
        row = gr.row_of.get((link.pid, link.tid))
        if row is not None:
            parts.update((row, gr.box_of[link.pid]))
    for a, b in zip(links, links[1:]):
        ra, rb = gr.row_of.get((a.pid, a.tid)), gr.row_of.get((b.pid, b.tid))
        bb = gr.box_of.get(b.pid)
        if ra is None or rb is None or bb is None:
            continue
        for hop in ((ra, rb), (ra, bb)):
            if hop in gr.edges:
                edges.add(hop)
                break
        else:
            for (src, dst) in gr.edges:
                if src == ra and dst.startswith("r:") and (dst, bb) in gr.edges:
                    edges.update(((ra, dst), (dst, bb)))
                    parts.add(dst)
                    break
    return parts, edges


# --------------------------------------------------------------------------------------------
# placement: a grid of columns and lines, edges routed in the gaps between them
#
# Boxes sit in columns; between two columns (and at both sides) is a *gap*, between two lines
# (and above the first, below the last) a *channel*.  An edge leaves a thread's row sideways
# into a gap, runs along it to the channel next to its target, along the channel, and enters
# the target from above or below; an edge from a node leaves it into the channel next to it.
# Gaps and channels hold no box, so no edge ever crosses one; parallel runs in the same gap or
# channel get lanes of their own, and the gap or channel widens to fit them.


def _depth(snapshot: Snapshot, pid: int) -> int:
    d, seen = 0, {pid}
    p = snapshot.by_pid.get(pid)
    while p is not None and p.ppid in snapshot.by_pid and p.ppid not in seen:
        seen.add(p.ppid)
        p = snapshot.by_pid[p.ppid]
        d += 1
    return d


@dataclass
class _Cell:
    """Where a box or node sits (line, column), and its rectangle once placed."""

    line: int
    col: int
    w: float
    h: float
    x: float = 0.0
    y: float = 0.0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass
class _Route:
    """An edge, before coordinates: the gaps and channels it runs along, in order."""

    src: str
    dst: str
    kind: str
    label: str
    exit: str  # "left"/"right" of a row, "top"/"bottom" of a node
    enter: str  # "top"/"bottom" of a box or node; "left" of a row (a lock)
    runs: List[Tuple[str, int]]  # ("gap", j) / ("chan", k)


def _cells(snapshot: Snapshot, gr: _Graph, chain_at: Dict[int, int],
           touches: Dict[str, Set[str]]) -> Tuple[Dict[str, _Cell], int, List[float]]:
    """Lines of boxes by depth in the process tree (the script's process on top, at most
    :data:`COLS` to a line, in their parents' order with the chain first), each depth followed
    by a band with the nodes whose shallowest process is at that depth, each node in the free
    column nearest the processes it connects."""
    index = {p.pid: i for i, p in enumerate(snapshot.processes)}
    members = {key: group for key, group, _ in gr.boxes}
    rows = {key: rows for key, _, rows in gr.boxes}
    depth_of = {key: _depth(snapshot, group[0].pid) for key, group in members.items()}
    layers: Dict[int, List[str]] = {}
    for key, _, _ in gr.boxes:
        layers.setdefault(depth_of[key], []).append(key)
    order: Dict[str, int] = {}
    for depth in sorted(layers):
        def rank(key: str) -> Tuple:
            rep = members[key][0]
            parent = gr.box_of.get(rep.ppid)
            return (order.get(parent, -1) if parent else -1, rep.pid not in chain_at,
                    chain_at.get(rep.pid, 0), index[rep.pid])
        layers[depth].sort(key=rank)
        for key in layers[depth]:
            order[key] = len(order)
    cols = max(1, min(COLS, max(len(keys) for keys in layers.values())))
    bands: Dict[int, List[str]] = {}
    for key in gr.nodes:
        bands.setdefault(min(depth_of[b] for b in touches[key]), []).append(key)

    # columns first (a node's column depends on where the boxes it connects are), lines after
    col_of: Dict[str, int] = {}
    box_lines: Dict[int, List[List[str]]] = {}
    for depth in sorted(layers):
        keys = layers[depth]
        for i in range(0, len(keys), cols):
            line = keys[i:i + cols]
            offset = (cols - len(line)) // 2
            for j, key in enumerate(line):
                col_of[key] = offset + j
            box_lines.setdefault(depth, []).append(line)
    node_lines: Dict[int, List[List[str]]] = {}
    for depth, keys in bands.items():
        wanted = sorted((sum(col_of[b] for b in sorted(touches[key])) / len(touches[key]), key)
                        for key in keys)
        free: List[int] = []
        for bary, key in wanted:
            if not free:
                free = list(range(cols))
                node_lines.setdefault(depth, []).append([])
            col = min(free, key=lambda c: (abs(c - bary), c))
            free.remove(col)
            col_of[key] = col
            node_lines[depth][-1].append(key)

    cells: Dict[str, _Cell] = {}
    heights: List[float] = []
    for depth in sorted(set(box_lines) | set(node_lines)):
        for line in box_lines.get(depth, []):
            for key in line:
                cells[key] = _Cell(len(heights), col_of[key], BOX_W,
                                   HEAD_H + max(1, len(rows[key])) * ROW_H + PAD)
            heights.append(max(cells[key].h for key in line))
        for line in node_lines.get(depth, []):
            for key in line:
                cells[key] = _Cell(len(heights), col_of[key], NODE_W, NODE_H)
            heights.append(NODE_H)
    return cells, cols, heights


def _plan(gr: _Graph, cells: Dict[str, _Cell]) -> List[_Route]:
    routes = []
    for (src, dst), (kind, label) in gr.edges.items():
        if kind == "lock":
            col = cells[src.split("/")[0]].col
            routes.append(_Route(src, dst, kind, label, "left", "left", [("gap", col)]))
            continue
        s = cells[src.split("/")[0]]
        t = cells[dst.split("/")[0]]
        enter = "bottom" if t.line < s.line else "top"
        k_in = t.line + 1 if enter == "bottom" else t.line
        if src in gr.nodes:
            exit_ = "top" if t.line < s.line else "bottom"
            k_out = s.line if exit_ == "top" else s.line + 1
            runs: List[Tuple[str, int]] = [("chan", k_out)]
            if k_out != k_in:
                # down (or up) the gap on the near side of the target's column
                runs += [("gap", t.col + 1 if s.col >= t.col else t.col), ("chan", k_in)]
        else:
            exit_ = "left" if t.col < s.col else "right"
            runs = [("gap", s.col if exit_ == "left" else s.col + 1), ("chan", k_in)]
        routes.append(_Route(src, dst, kind, label, exit_, enter, runs))
    return routes


def _rounded(points: List[Tuple[float, float]], radius: float = 6.0) -> str:
    """Path data through ``points`` (horizontal and vertical runs), corners rounded."""
    pts: List[Tuple[float, float]] = []
    for p in points:
        if not pts or abs(p[0] - pts[-1][0]) > 0.05 or abs(p[1] - pts[-1][1]) > 0.05:
            pts.append(p)
    d = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
    for i in range(1, len(pts) - 1):
        (ax, ay), (bx, by), (cx, cy) = pts[i - 1], pts[i], pts[i + 1]
        r_in = min(radius, (abs(bx - ax) + abs(by - ay)) / 2)
        r_out = min(radius, (abs(cx - bx) + abs(cy - by)) / 2)
        ux, uy = _unit(ax, ay, bx, by)
        vx, vy = _unit(bx, by, cx, cy)
        d.append(f"L{bx - ux * r_in:.1f},{by - uy * r_in:.1f} "
                 f"Q{bx:.1f},{by:.1f} {bx + vx * r_out:.1f},{by + vy * r_out:.1f}")
    d.append(f"L{pts[-1][0]:.1f},{pts[-1][1]:.1f}")
    return " ".join(d)


def _unit(ax: float, ay: float, bx: float, by: float) -> Tuple[float, float]:
    length = ((bx - ax) ** 2 + (by - ay) ** 2) ** 0.5 or 1.0
    return (bx - ax) / length, (by - ay) / length


def layout(snapshot: Snapshot, diagnosis: Optional["Diagnosis"] = None) -> Layout:
    """Place the wait-for graph of ``snapshot``, with the chain of ``diagnosis`` marked.  Same
    input, same picture."""
    g = waitfor.build(snapshot)
    gr = _graph(snapshot, g, chain_pids(diagnosis))
    on_cycle, cycle_edges = _cycle(gr, diagnosis)
    # the boxes each node connects, holders included (they place it, drawn or not)
    touches: Dict[str, Set[str]] = {}
    for (src, dst) in gr.edges:
        for a, b in ((src, dst), (dst, src)):
            if a in gr.nodes:
                touches.setdefault(a, set()).add(b.split("/")[0])
    # a node many processes hold (a queue 64 children share): its text says how many, and
    # only the arrow the cycle takes is drawn, not one to each of them
    fan: Dict[str, int] = {}
    for (src, _dst), (kind, _) in gr.edges.items():
        if kind == "holder":
            fan[src] = fan.get(src, 0) + 1
    gr.edges = {e: v for e, v in gr.edges.items()
                if v[0] != "holder" or fan[e[0]] <= DENSE or e in cycle_edges}
    links = list(diagnosis.chain) if diagnosis is not None else []
    closed = len(links) > 1 and (links[0].pid, links[0].tid) == (links[-1].pid, links[-1].tid)
    chain_at: Dict[int, int] = {}
    for i, link in enumerate(links):
        chain_at.setdefault(link.pid, i)

    cells, cols, heights = _cells(snapshot, gr, chain_at, touches)
    routes = _plan(gr, cells)
    grid = _Grid(gr, cells, cols, heights, routes)
    edges = _draw(snapshot, gr, grid, routes, cycle_edges)

    stuck = (set(diagnosis.stuck) if diagnosis is not None
             else {(pid, tid) for _, pid, tid in g.stuck})
    boxes: List[Box] = []
    for key, group, rows in gr.boxes:
        rep = group[0]
        c = cells[key]
        title = who(snapshot, rep.pid)
        if len(group) > 1:
            title += f" and {len(group) - 1} more alike"
        zombie = rep.state == "Z"
        sub = ("exited, not yet reaped (zombie)" if zombie
               else " ".join(rep.cmdline) or "(no command line)")
        out_rows = []
        for row, t in rows:
            label = "main thread" if t.tid == rep.pid else (t.name or f"thread {t.tid}")
            is_stuck = (rep.pid, t.tid) in stuck
            why = g.live_reason.get(waitfor.tnode(rep.pid, t.tid))
            detail = describe(snapshot, rep, t) + (" [stuck]" if is_stuck else
                                                   f" [can move: {why}]" if why else "")
            out_rows.append(Row(row, t.tid, _fit(f"{label}: {short_wait(snapshot, t)}",
                                                 BOX_W - 2 * PAD),
                                detail, is_stuck, row in on_cycle, grid.row_cy(row) - ROW_H / 2))
        boxes.append(Box(key, tuple(p.pid for p in group), _fit(title, BOX_W - 2 * PAD, TITLE_W),
                         _fit(sub, BOX_W - 2 * PAD), tuple(out_rows), c.x, c.y, c.w, c.h,
                         key in on_cycle, zombie))
    nodes = []
    for key, (title, sub, detail) in gr.nodes.items():
        c = cells[key]
        if fan.get(key, 0) > DENSE:
            detail += f" (arrows to its {fan[key]} holders left out)"
        nodes.append(Node(key, _fit(title, NODE_W - 16, CHAR_W * 1.1), _fit(sub, NODE_W - 16),
                          detail, c.x, c.y, c.w, c.h, key in on_cycle))
    return Layout(grid.width, grid.height, tuple(boxes), tuple(nodes), edges, closed)


def _bundle(r: _Route) -> Tuple[str, str]:
    """Edges to the same target share their lanes (a fan-in is drawn as a tree, not as one line
    per waiter), as do edges from the same node."""
    return ("from", r.src) if r.kind == "holder" else ("to", r.dst)


class _Grid:
    """Coordinates: the width of each gap and the height of each channel (enough for their
    lanes), where every box and node lands, each edge's lanes, and where it meets a side."""

    def __init__(self, gr: _Graph, cells: Dict[str, _Cell], cols: int, heights: List[float],
                 routes: List[_Route]) -> None:
        self.cells = cells
        self.row_index = {row: i for _, _, rows in gr.boxes for i, (row, _) in enumerate(rows)}
        users: Dict[Tuple[str, int], List[Tuple[str, str]]] = {}
        #: box -> the rows its lock arcs go to: the arcs hug the box's left side (one lane per
        #: target row, shared by the arcs to it) instead of taking lanes of the gap
        self.locks: Dict[str, List[str]] = {}
        for r in routes:
            if r.kind == "lock":
                rows = self.locks.setdefault(r.src.split("/")[0], [])
                if r.dst not in rows:
                    rows.append(r.dst)
                continue
            for run in r.runs:
                if _bundle(r) not in users.setdefault(run, []):
                    users[run].append(_bundle(r))

        def place(key: str) -> Tuple[int, int]:
            c = cells[key.split("/")[0]]
            return c.col, c.line

        self.lane: Dict[Tuple[Tuple[str, str], Tuple[str, int]], Tuple[int, int]] = {}
        for run, bundles in users.items():
            bundles.sort(key=lambda b: (place(b[1]), b))
            for n_, b in enumerate(bundles):
                self.lane[(b, run)] = (n_, len(bundles))
        self.hug = [0] * (cols + 1)  # lock arcs beside the boxes of the column after a gap
        for key, targets in self.locks.items():
            targets.sort(key=lambda row: self.row_index[row])
            self.hug[cells[key].col] = max(self.hug[cells[key].col], len(targets))
        self.gap_w = [max(GAP_X, LANE * (len(users.get(("gap", j), ())) + 1) + 16)
                      + LANE * self.hug[j] for j in range(cols + 1)]
        last = len(heights)
        self.chan_h = [0.0 if k in (0, last) and not users.get(("chan", k)) else
                       max(GAP_Y / 2 if k in (0, last) else GAP_Y,
                           LANE * (len(users.get(("chan", k), ())) + 1) + 28)
                       for k in range(last + 1)]
        self.gap_x: List[float] = []
        col_x: List[float] = []
        x = MARGIN
        for j in range(cols + 1):
            self.gap_x.append(x)
            x += self.gap_w[j]
            if j < cols:
                col_x.append(x)
                x += BOX_W
        self.width = x + MARGIN
        self.chan_y: List[float] = []
        line_y: List[float] = []
        y = MARGIN
        for k in range(last + 1):
            self.chan_y.append(y)
            y += self.chan_h[k]
            if k < last:
                line_y.append(y)
                y += heights[k]
        self.height = y + MARGIN
        for c in cells.values():
            c.x = col_x[c.col] + (BOX_W - c.w) / 2
            c.y = line_y[c.line]
        self.slot = self._slots(gr, routes)

    def lane_x(self, r: _Route, j: int) -> float:
        n_, total = self.lane[(_bundle(r), ("gap", j))]
        middle = self.gap_x[j] + (self.gap_w[j] - LANE * self.hug[j]) / 2
        return middle + (n_ - (total - 1) / 2) * LANE

    def lane_y(self, r: _Route, k: int) -> float:
        n_, total = self.lane[(_bundle(r), ("chan", k))]
        return self.chan_y[k] + self.chan_h[k] / 2 + (n_ - (total - 1) / 2) * LANE

    def row_cy(self, row: str) -> float:
        box = self.cells[row.split("/")[0]]
        return box.y + HEAD_H + self.row_index[row] * ROW_H + ROW_H / 2

    def _slots(self, gr: _Graph, routes: List[_Route]) -> Dict[Tuple[int, str], float]:
        """Where edges meet the side of a box or node: spread along it in the order of where
        they come from, so that they neither meet nor cross there (a bundle meets it at one
        point)."""
        slot: Dict[Tuple[int, str], float] = {}

        def spread(found: Dict[Tuple[str, str], List[Tuple[float, int]]], end: str) -> None:
            for (key, _), items in found.items():
                c = self.cells[key]
                spots = sorted({x for x, _ in items})
                for x, i in items:
                    slot[(i, end)] = c.x + c.w * (spots.index(x) + 1) / (len(spots) + 1)

        outs: Dict[Tuple[str, str], List[Tuple[float, int]]] = {}
        for i, r in enumerate(routes):
            if r.src in gr.nodes:
                outs.setdefault((r.src, r.exit), []).append(
                    (self.cells[r.dst.split("/")[0]].cx, i))
        spread(outs, "out")
        ins: Dict[Tuple[str, str], List[Tuple[float, int]]] = {}
        for i, r in enumerate(routes):
            if r.kind == "lock":
                continue
            before = r.runs[-2] if len(r.runs) > 1 else None
            came = (self.lane_x(r, before[1]) if before is not None and before[0] == "gap"
                    else slot[(i, "out")])
            ins.setdefault((r.dst, r.enter), []).append((round(came, 1), i))
        spread(ins, "in")
        return slot


def _draw(snapshot: Snapshot, gr: _Graph, grid: _Grid, routes: List[_Route],
          cycle_edges: Set[Tuple[str, str]]) -> Tuple[Edge, ...]:
    """Each route's path and label.  A label that would cover another moves along its run, or
    is left to the tooltip; the cycle's labels always show."""
    names: Dict[str, str] = {key: who(snapshot, group[0].pid) for key, group, _ in gr.boxes}
    for key, group, rows in gr.boxes:
        for row, t in rows:
            names[row] = f"{names[key]}, {thread_label(group[0], t)}"
    for key, (title, _, _) in gr.nodes.items():
        names[key] = title
    edges: List[Edge] = []
    placed: List[Tuple[float, float, float, float]] = []
    said: Set[Tuple[str, float, str]] = set()  # a bundle's label is shown once
    labelled = sum(1 for r in routes if r.kind != "holder")
    # the cycle last, so that it is drawn over the rest
    order = sorted(range(len(routes)),
                   key=lambda i: ((routes[i].src, routes[i].dst) in cycle_edges, i))
    for i in order:
        r = routes[i]
        cycle = (r.src, r.dst) in cycle_edges
        if r.kind == "lock":
            box = grid.cells[r.src.split("/")[0]]
            targets = grid.locks[r.src.split("/")[0]]
            gx = box.x - LANE * (targets.index(r.dst) + 1) - 2
            y0, y3 = grid.row_cy(r.src), grid.row_cy(r.dst)
            pts = [(box.x, y0), (gx, y0), (gx, y3), (box.x, y3)]
            # left of all the box's arcs, so that it covers neither an arc nor a row
            mx = box.x - LANE * len(targets) - 6 - len(r.label) * CHAR_W / 2
            my = (y0 + y3) / 2
            alone = len(targets) == 1
        else:
            alone = True
            if r.src in gr.nodes:
                node = grid.cells[r.src]
                cur = (grid.slot[(i, "out")], node.y if r.exit == "top" else node.y + node.h)
            else:
                box = grid.cells[r.src.split("/")[0]]
                cur = (box.x if r.exit == "left" else box.x + box.w, grid.row_cy(r.src))
            pts = [cur]
            for kind, idx in r.runs:
                cur = ((grid.lane_x(r, idx), cur[1]) if kind == "gap"
                       else (cur[0], grid.lane_y(r, idx)))
                pts.append(cur)
            target = grid.cells[r.dst]
            tx = grid.slot[(i, "in")]
            mx, my = (cur[0] + tx) / 2, cur[1]
            pts.append((tx, cur[1]))
            pts.append((tx, target.y if r.enter == "top" else target.y + target.h))
        # the arcs of a box whose threads wait on each other's locks say "lock" in their rows
        show = bool(r.label) and (cycle or (labelled <= LABELS and alone))
        said_key = (r.dst, round(my, 1), r.label)
        if show and said_key in said and not cycle:
            show = False
        elif show:
            w, h = len(r.label) * CHAR_W + 6, 13.0
            # along the run: sideways on a channel, up and down beside a box's lock arcs
            steps = (0.0, -h, h, -2 * h, 2 * h) if r.kind == "lock" else (0.0, -w, w, -2 * w,
                                                                           2 * w)
            for step in steps:
                dx, dy = (0.0, step) if r.kind == "lock" else (step, 0.0)
                spot = (mx + dx - w / 2, my + dy - h / 2, w, h)
                if not any(_overlap(spot, p) for p in placed):
                    mx, my = mx + dx, my + dy
                    placed.append(spot)
                    said.add(said_key)
                    break
            else:
                show = cycle
        detail = (f"{names[r.dst]}: held by {names[r.src]}" if r.kind == "holder"
                  else f"{names[r.src]} -> {names[r.dst]} ({r.label})")
        edges.append(Edge(r.src, r.dst, r.kind, r.label, detail, _rounded(pts), mx, my, show,
                          cycle))
    return tuple(edges)


def _overlap(a: Tuple[float, float, float, float], b: Tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


# --------------------------------------------------------------------------------------------
# SVG text

STYLE = """
svg.waitfor { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 11px; }
svg.waitfor .box > rect.frame { fill: #f8fafc; stroke: #94a3b8; stroke-width: 1; }
svg.waitfor .box.cycle > rect.frame { stroke: #dc2626; stroke-width: 2.5; }
svg.waitfor .box.zombie > rect.frame { stroke-dasharray: 5 3; fill: #f1f5f9; }
svg.waitfor .box-title { font-weight: bold; font-size: 12px; fill: #0f172a; }
svg.waitfor .box-sub { fill: #64748b; }
svg.waitfor .row > rect { fill: #ecfdf5; stroke: none; }
svg.waitfor .row.stuck > rect { fill: #fee2e2; }
svg.waitfor .row.cycle > rect { stroke: #dc2626; stroke-width: 1.5; }
svg.waitfor .row > text { fill: #1e293b; }
svg.waitfor .node > rect { fill: #fff7ed; stroke: #f59e0b; stroke-width: 1.2; }
svg.waitfor .node.cycle > rect { stroke: #dc2626; stroke-width: 2.5; }
svg.waitfor .node-title { font-weight: bold; fill: #7c2d12; }
svg.waitfor .node-sub { fill: #9a3412; }
svg.waitfor path.edge { fill: none; stroke: #64748b; stroke-width: 1.3; }
svg.waitfor path.edge.holder { stroke: #a8a29e; stroke-dasharray: 4 3; }
svg.waitfor path.edge.cycle { stroke: #dc2626; stroke-width: 2.6; stroke-dasharray: none; }
svg.waitfor .label { fill: #334155; paint-order: stroke; stroke: #ffffff; stroke-width: 3px;
  text-anchor: middle; dominant-baseline: middle; }
svg.waitfor .label.cycle { fill: #b91c1c; font-weight: bold; }
svg.waitfor a:hover rect.frame { stroke: #2563eb; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render(lay: Layout, title: str = "Wait-for graph") -> str:
    """The layout as an ``<svg>`` element, with its own style; every text is escaped."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="waitfor" role="img" '
           f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" width="{lay.width:.0f}" '
           f'height="{lay.height:.0f}" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f"<style>{STYLE}</style>",
           "<defs>",
           '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="#64748b"/>'
           "</marker>",
           '<marker id="arrow-holder" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="#a8a29e"/>'
           "</marker>",
           '<marker id="arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="#dc2626"/>'
           "</marker>",
           "</defs>",
           '<g class="edges">']
    for e in lay.edges:
        classes = " ".join(["edge", e.kind] + (["cycle"] if e.cycle else []))
        marker = "arrow-cycle" if e.cycle else "arrow-holder" if e.kind == "holder" else "arrow"
        out.append(f'<path class="{classes}" data-src="{_e(e.src)}" data-dst="{_e(e.dst)}" '
                   f'd="{e.d}" marker-end="url(#{marker})"><title>{_e(e.detail)}</title></path>')
    out.append("</g>")
    out.append('<g class="boxes">')
    for b in lay.boxes:
        classes = " ".join(["box"] + (["cycle"] if b.cycle else [])
                           + (["zombie"] if b.zombie else []))
        pids = ", ".join(map(str, b.pids))
        out.append(f'<a href="#proc-{b.pids[0]}"><g class="{classes}" id="graph-{_e(b.key)}">'
                   f"<title>{_e(b.title)}: {len(b.pids)} process"
                   f"{'es' if len(b.pids) != 1 else ''} ({_e(pids)})</title>"
                   f'<rect class="frame" x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" '
                   f'height="{b.h:.1f}" rx="6"/>'
                   f'<text class="box-title" x="{b.x + PAD:.1f}" y="{b.y + 16:.1f}">'
                   f"{_e(b.title)}</text>"
                   f'<text class="box-sub" x="{b.x + PAD:.1f}" y="{b.y + 31:.1f}">'
                   f"{_e(b.sub)}</text>")
        for r in b.rows:
            rc = " ".join(["row"] + (["stuck"] if r.stuck else []) + (["cycle"] if r.cycle
                                                                      else []))
            out.append(f'<g class="{rc}" data-row="{_e(r.key)}"><title>{_e(r.detail)}</title>'
                       f'<rect x="{b.x + 4:.1f}" y="{r.y + 1:.1f}" width="{b.w - 8:.1f}" '
                       f'height="{ROW_H - 2:.1f}" rx="3"/>'
                       f'<text x="{b.x + PAD:.1f}" y="{r.y + ROW_H / 2 + 4:.1f}">'
                       f"{_e(r.text)}</text></g>")
        out.append("</g></a>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for nd in lay.nodes:
        classes = "node cycle" if nd.cycle else "node"
        out.append(f'<g class="{classes}" data-node="{_e(nd.key)}"><title>{_e(nd.detail)}'
                   f'</title><rect x="{nd.x:.1f}" y="{nd.y:.1f}" width="{nd.w:.1f}" '
                   f'height="{nd.h:.1f}" rx="14"/>'
                   f'<text class="node-title" x="{nd.x + nd.w / 2:.1f}" y="{nd.y + 16:.1f}" '
                   f'text-anchor="middle">{_e(nd.title)}</text>'
                   f'<text class="node-sub" x="{nd.x + nd.w / 2:.1f}" y="{nd.y + 31:.1f}" '
                   f'text-anchor="middle">{_e(nd.sub)}</text></g>')
    out.append("</g>")
    out.append('<g class="labels">')
    for e in lay.edges:
        if e.show_label:
            classes = "label cycle" if e.cycle else "label"
            out.append(f'<text class="{classes}" x="{e.lx:.1f}" y="{e.ly:.1f}">'
                       f"{_e(e.label)}</text>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
