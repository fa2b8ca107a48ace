"""What the rules need to know about one module, worked out once from its AST.

Nothing here executes the code under analysis.  Names are resolved through the module's imports
(``mp.Pool`` is ``multiprocessing.Pool``), and local variables get a *kind* from what was
assigned to them (a queue, a pool, a process...).  The inference is deliberately shallow: it
follows one module, assignments in one function, and calls of functions of the same module.
Where it cannot tell, it says nothing, so that the rules stay precise.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple, Union

ScopeNode = Union[ast.Module, ast.FunctionDef, ast.AsyncFunctionDef]
FuncNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]

# -- kinds of values ------------------------------------------------------------------------------

QUEUE = "mp-queue"  # multiprocessing.Queue: a feeder thread writes into a pipe
JOINABLE = "mp-joinable-queue"
SIMPLE = "mp-simple-queue"  # put() writes into the pipe itself
PIPE = "mp-pipe"  # the pair returned by Pipe(); each end is a CONN
CONN = "mp-connection"
PROCESS = "mp-process"
POOL = "mp-pool"  # multiprocessing.Pool: worker processes
THREAD_POOL = "thread-pool"  # multiprocessing.pool.ThreadPool / multiprocessing.dummy.Pool
PROCESS_EXECUTOR = "process-executor"
THREAD_EXECUTOR = "thread-executor"
MANAGER = "mp-manager"
PROXY = "manager-proxy"
CONTEXT = "mp-context"
MP_PRIMITIVE = "mp-primitive"
THREAD_QUEUE = "thread-queue"  # queue.Queue and friends: one process's memory
THREAD_PRIMITIVE = "thread-primitive"  # threading.Lock, Event...
THREAD = "thread"
FILE = "file"
SOCKET = "socket"
LAMBDA = "lambda"
ASYNC_RESULT = "async-result"
IMAP_ITERATOR = "imap-iterator"

MP_QUEUES = (QUEUE, JOINABLE, SIMPLE)
POOLS = (POOL, THREAD_POOL)
#: what cannot be pickled, held by an instance or sent as an argument
UNPICKLABLE = (THREAD_PRIMITIVE, THREAD_QUEUE, POOL, THREAD_POOL, PROCESS_EXECUTOR,
               THREAD_EXECUTOR, THREAD, FILE, SOCKET)

#: fully qualified constructors -> kind
CONSTRUCTORS: Dict[str, str] = {}
for _names, _kind in (
    (("multiprocessing.Queue", "multiprocessing.queues.Queue"), QUEUE),
    (("multiprocessing.JoinableQueue", "multiprocessing.queues.JoinableQueue"), JOINABLE),
    (("multiprocessing.SimpleQueue", "multiprocessing.queues.SimpleQueue"), SIMPLE),
    (("multiprocessing.Pipe", "multiprocessing.connection.Pipe"), PIPE),
    (("multiprocessing.Process", "multiprocessing.context.Process"), PROCESS),
    (("multiprocessing.Pool", "multiprocessing.pool.Pool"), POOL),
    (("multiprocessing.pool.ThreadPool", "multiprocessing.dummy.Pool"), THREAD_POOL),
    (("concurrent.futures.ProcessPoolExecutor",
      "concurrent.futures.process.ProcessPoolExecutor"), PROCESS_EXECUTOR),
    (("concurrent.futures.ThreadPoolExecutor",
      "concurrent.futures.thread.ThreadPoolExecutor"), THREAD_EXECUTOR),
    (("multiprocessing.Manager", "multiprocessing.managers.SyncManager"), MANAGER),
    (("multiprocessing.get_context",), CONTEXT),
    (("multiprocessing.Lock", "multiprocessing.RLock", "multiprocessing.Event",
      "multiprocessing.Condition", "multiprocessing.Semaphore",
      "multiprocessing.BoundedSemaphore", "multiprocessing.Barrier", "multiprocessing.Value",
      "multiprocessing.Array"), MP_PRIMITIVE),
    (("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue"),
     THREAD_QUEUE),
    (("threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
      "threading.BoundedSemaphore", "threading.Event", "threading.Barrier",
      "_thread.allocate_lock"), THREAD_PRIMITIVE),
    (("threading.Thread", "threading.Timer"), THREAD),
    (("open", "io.open", "builtins.open"), FILE),
    (("socket.socket", "socket.create_connection"), SOCKET),
):
    for _name in _names:
        CONSTRUCTORS[_name] = _kind

#: methods of a context (or of the multiprocessing module) -> kind
CONTEXT_METHODS = {"Queue": QUEUE, "JoinableQueue": JOINABLE, "SimpleQueue": SIMPLE,
                   "Pipe": PIPE, "Process": PROCESS, "Pool": POOL, "Manager": MANAGER,
                   "Lock": MP_PRIMITIVE, "RLock": MP_PRIMITIVE, "Event": MP_PRIMITIVE,
                   "Condition": MP_PRIMITIVE, "Semaphore": MP_PRIMITIVE,
                   "BoundedSemaphore": MP_PRIMITIVE, "Barrier": MP_PRIMITIVE,
                   "Value": MP_PRIMITIVE, "Array": MP_PRIMITIVE}
#: a receiver whose name says it is a multiprocessing context (``self.ctx.Pool(...)``)
_CONTEXT_NAME = re.compile(r"(^|_)(ctx|context|mp_context|mp_ctx)$")

#: the start methods a process may be started with; None is the platform's default (fork on
#: Linux up to Python 3.13, forkserver from 3.14, spawn on macOS and Windows), "?" unknown
Methods = FrozenSet[Optional[str]]
DEFAULT: Methods = frozenset({None})


@dataclass(frozen=True)
class Value:
    """What a variable holds, as far as the module shows."""

    kind: str
    node: ast.AST  # the expression that made it
    methods: Methods = DEFAULT  # start methods, for processes, pools, executors, contexts
    element: bool = False  # a list (or other collection) of such values
    index: Optional[int] = None  # which end of a Pipe() (0 or 1)
    with_node: Optional[ast.AST] = None  # bound by ``with ... as name``
    pool: Optional[str] = None  # the pool variable a result or iterator comes from


# -- small helpers -----------------------------------------------------------------------------


def pos(node: ast.AST) -> Tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def end_pos(node: ast.AST) -> Tuple[int, int]:
    return (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)


def dotted(expr: ast.AST) -> Optional[str]:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts: List[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


def snippet(node: ast.AST, width: int = 48) -> str:
    """Short source text of ``node`` for a message."""
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # unparse of an odd tree must never cost the finding
        return "..."
    return text if len(text) <= width else text[:width - 3] + "..."


def last_name(expr: ast.AST) -> Optional[str]:
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Name):
        return expr.id
    return None


def method_call(node: ast.AST) -> Optional[Tuple[ast.expr, str]]:
    """``(receiver, method)`` for a call ``receiver.method(...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.value, node.func.attr
    return None


def has_timeout(call: ast.Call) -> bool:
    """A wait that ends by itself: a positional argument or a ``timeout=``/``block=``."""
    if call.args:
        return True
    return any(k.arg in ("timeout", "block") for k in call.keywords)


def keyword(call: ast.Call, name: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` in any of its spellings (and the process-name variant)."""
    if isinstance(test, ast.BoolOp):
        return any(is_main_guard(v) for v in test.values)
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    names = [dotted(s) for s in sides]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    if "__name__" in names and "__main__" in consts:
        return isinstance(test.ops[0], (ast.Eq, ast.Is))
    if "__name__" in names and isinstance(test.ops[0], ast.In):
        other = sides[1]
        return isinstance(other, (ast.Tuple, ast.List, ast.Set)) and any(
            isinstance(e, ast.Constant) and e.value == "__main__" for e in other.elts)
    # current_process().name == "MainProcess": a guard too (if an unusual one)
    if "MainProcess" in consts:
        return True
    return False


#: leaves that say nothing to any rule (Load/Store, operators): not walked, to save time
_MUTE = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)


def _children(node: ast.AST) -> List[ast.AST]:
    """``list(ast.iter_child_nodes(node))`` without the mute leaves, about twice as fast."""
    out: List[ast.AST] = []
    for name in node._fields:
        v = getattr(node, name, None)
        if isinstance(v, ast.AST):
            if not isinstance(v, _MUTE):
                out.append(v)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, ast.AST) and not isinstance(x, _MUTE):
                    out.append(x)
    return out


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` that runs as part of it: nested functions, lambdas and classes
    are not entered (their bodies run at another time)."""
    stack = list(ast.iter_child_nodes(node))
    stack.reverse()
    while stack:
        child = stack.pop()
        yield child
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            if isinstance(child, ast.Lambda):
                continue
            # decorators and defaults do run here
            extra: List[ast.AST] = list(child.decorator_list)
            if not isinstance(child, ast.ClassDef):
                extra += [d for d in child.args.defaults + child.args.kw_defaults if d]
            else:
                extra += list(child.bases)
            stack.extend(reversed(extra))
            continue
        kids = list(ast.iter_child_nodes(child))
        kids.reverse()
        stack.extend(kids)


def scope_of_node(mod: "Module", node: ast.AST) -> ast.AST:
    """The function, lambda or module whose body ``node`` runs in."""
    for anc in mod.ancestors(node):
        if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)):
            return anc
    return mod.tree


def binds(func: ast.AST, name: str) -> bool:
    """``name`` is a parameter or a local variable of the function or lambda ``func``."""
    if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        return False
    a = func.args
    params = [p.arg for p in list(getattr(a, "posonlyargs", [])) + a.args + a.kwonlyargs]
    params += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    if name in params:
        return True
    if isinstance(func, ast.Lambda):
        return False
    for node in walk_scope(func):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
               for n in walk_scope(func))


def calls(node: ast.AST) -> Iterator[ast.Call]:
    for n in walk_scope(node):
        if isinstance(n, ast.Call):
            yield n


def names_in(node: ast.AST) -> Set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def param_names(func: Union[FuncNode, ast.Lambda]) -> List[str]:
    a = func.args
    return [p.arg for p in list(getattr(a, "posonlyargs", [])) + list(a.args)]


def required_positional(func: FuncNode) -> Tuple[int, Optional[int]]:
    """How many positional arguments a call must and may pass (``None``: any number)."""
    names = param_names(func)
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    defaults = len(func.args.defaults)
    most = None if func.args.vararg else len(names)
    return max(len(names) - defaults, 0), most


# -- processes and the work sent to them --------------------------------------------------------


@dataclass(frozen=True)
class Spawn:
    """A ``Process(...)`` made somewhere in the module."""

    scope: ScopeNode
    call: ast.Call
    target: Optional[ast.expr]
    args: Tuple[ast.expr, ...]  # positional arguments passed to the target (if a literal)
    kwargs: Tuple[Tuple[str, ast.expr], ...]
    methods: Methods


@dataclass(frozen=True)
class Task:
    """A function sent to a pool or executor: ``pool.map(f, ...)``, ``ex.submit(f, ...)``."""

    scope: ScopeNode
    call: ast.Call
    func: ast.expr
    args: Tuple[ast.expr, ...]  # arguments passed with it, where they are a literal tuple
    pool: Value  # the pool or executor
    method: str


POOL_TASK_METHODS = ("map", "map_async", "imap", "imap_unordered", "starmap", "starmap_async",
                     "apply", "apply_async")
EXECUTOR_TASK_METHODS = ("submit", "map")


_WORK_NAMES = frozenset(("Process",) + POOL_TASK_METHODS + EXECUTOR_TASK_METHODS)


@dataclass
class ClassInfo:
    node: ast.ClassDef
    methods: Dict[str, FuncNode] = field(default_factory=dict)
    #: ``self.name = ...`` anywhere in a method: attribute -> (value, the method it is in)
    attrs: Dict[str, List[Tuple[ast.expr, FuncNode]]] = field(default_factory=dict)

    def has_pickle_hooks(self) -> bool:
        return any(m in self.methods for m in ("__getstate__", "__reduce__", "__reduce_ex__"))


class Module:
    """Facts about one parsed module."""

    def __init__(self, tree: ast.Module, path: str = "<string>") -> None:
        self.tree = tree
        self.path = path
        self.aliases: Dict[str, str] = {}
        self.parents: Dict[ast.AST, ast.AST] = {}
        self.functions: Dict[str, FuncNode] = {}  # module-level functions
        self.classes: Dict[str, ClassInfo] = {}
        self.class_by_node: Dict[ast.AST, ClassInfo] = {}
        self.scopes: List[ScopeNode] = [tree]
        self._envs: Dict[ast.AST, Dict[str, Value]] = {}
        self._nodes: Dict[ast.AST, List[ast.AST]] = {tree: []}
        self._calls: Dict[ast.AST, List[ast.Call]] = {}
        self._attr_values: Dict[Tuple[int, str], Optional[Value]] = {}
        self_assigns: List[ast.Assign] = []
        start_calls: List[ast.Call] = []
        class_nodes: List[ast.ClassDef] = []
        # one walk over the tree for everything below (big test modules have 100k nodes):
        # parents, and the nodes of each scope in source order (what walk_scope() yields)
        stack: List[Tuple[ast.AST, Optional[ast.AST]]] = [(tree, None)]
        nodes_of = self._nodes
        parents = self.parents
        func_types = (ast.FunctionDef, ast.AsyncFunctionDef)
        while stack:
            node, owner = stack.pop()
            if owner is not None:
                nodes_of[owner].append(node)
            kids = _children(node)
            for child in kids:
                parents[child] = node
            t = type(node)
            if t in func_types:
                fn: FuncNode = node  # type: ignore[assignment]
                outer = set(map(id, fn.decorator_list))
                nodes_of[fn] = []
                self.scopes.append(fn)
                stack.extend(reversed([(k, owner if id(k) in outer else fn) for k in kids]))
                continue
            if t is ast.ClassDef:
                cls: ast.ClassDef = node  # type: ignore[assignment]
                outer = set(map(id, cls.decorator_list + cls.bases))
                class_nodes.append(cls)
                stack.extend(reversed([(k, owner if id(k) in outer else None) for k in kids]))
                continue
            inner = tree if node is tree else (None if t is ast.Lambda else owner)
            stack.extend([(k, inner) for k in reversed(kids)])
            if t is ast.Call:
                func = node.func  # type: ignore[attr-defined]
                if (type(func) is ast.Attribute and func.attr == "set_start_method") or (
                        type(func) is ast.Name and func.id == "set_start_method"):
                    start_calls.append(node)  # type: ignore[arg-type]
            elif t is ast.Assign:
                if any(type(x) is ast.Attribute and type(x.value) is ast.Name
                       and x.value.id == "self" for x in node.targets):  # type: ignore
                    self_assigns.append(node)  # type: ignore[arg-type]
            elif t is ast.Import:
                for a in node.names:  # type: ignore[attr-defined]
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.aliases[top] = top
            elif t is ast.ImportFrom:
                imp: ast.ImportFrom = node  # type: ignore[assignment]
                if imp.module and not imp.level:
                    for a in imp.names:
                        if a.name != "*":
                            self.aliases[a.asname or a.name] = f"{imp.module}.{a.name}"
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[stmt.name] = stmt
        for cnode in class_nodes:
            info = ClassInfo(cnode)
            for item in cnode.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    info.methods[item.name] = item
            self.classes.setdefault(cnode.name, info)
            self.class_by_node[cnode] = info
        for assign in self_assigns:
            # the method it is in: the nearest function whose parent is a class
            meth: Optional[FuncNode] = None
            for anc in self.ancestors(assign):
                if isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                        isinstance(self.parents.get(anc), ast.ClassDef):
                    meth = anc
                    break
            if meth is None:
                continue
            info_of = self.class_by_node[self.parents[meth]]
            for target in assign.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id == "self":
                    info_of.attrs.setdefault(target.attr, []).append((assign.value, meth))
        self._start_calls = start_calls
        self.default_methods = self._module_start_method()
        self.spawns: List[Spawn] = []
        self.tasks: List[Task] = []
        self._collect_work()

    def nodes(self, scope: ast.AST) -> List[ast.AST]:
        """``walk_scope(scope)``, computed once."""
        got = self._nodes.get(scope)
        if got is None:
            got = self._nodes[scope] = list(walk_scope(scope))
        return got

    def calls(self, scope: ast.AST) -> List[ast.Call]:
        got = self._calls.get(scope)
        if got is None:
            got = self._calls[scope] = [n for n in self.nodes(scope) if isinstance(n, ast.Call)]
        return got

    # -- names ----------------------------------------------------------------------------------

    def qualname(self, expr: ast.AST) -> Optional[str]:
        """The fully qualified name an expression refers to through the imports, e.g.
        ``mp.get_context`` -> ``multiprocessing.get_context``; builtins stay bare."""
        name = dotted(expr)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
            return f"{full}.{rest}" if rest else full
        return name

    def scope_of(self, node: ast.AST) -> ScopeNode:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(
                cur, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            cur = self.parents.get(cur)
        return cur if cur is not None else self.tree  # type: ignore[return-value]

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        cur = self.parents.get(node)
        while cur is not None:
            yield cur
            cur = self.parents.get(cur)

    def in_loop(self, node: ast.AST, scope: ast.AST) -> bool:
        """Inside a loop or a comprehension of ``scope`` (may run more than once)."""
        for anc in self.ancestors(node):
            if anc is scope:
                return False
            if isinstance(anc, (ast.For, ast.AsyncFor, ast.While, ast.comprehension,
                                ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                return True
        return False

    def enclosing_class(self, func: ast.AST) -> Optional[ClassInfo]:
        parent = self.parents.get(func)
        return self.class_by_node.get(parent) if isinstance(parent, ast.ClassDef) else None

    def _module_start_method(self) -> Methods:
        """``set_start_method("spawn")`` anywhere in the module sets the default for it."""
        found: Set[Optional[str]] = set()
        for node in self._start_calls:
            if node.args:
                found |= self.start_methods(node.args[0])
        return frozenset(found) if found else DEFAULT

    def start_methods(self, expr: Optional[ast.expr]) -> Methods:
        """The start methods a ``get_context(expr)`` argument may name."""
        if expr is None or (isinstance(expr, ast.Constant) and expr.value is None):
            return DEFAULT
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return frozenset({expr.value})
        if isinstance(expr, ast.IfExp):
            return self.start_methods(expr.body) | self.start_methods(expr.orelse)
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            return frozenset().union(*(self.start_methods(v) for v in expr.values))
        return frozenset({"?"})

    # -- values ---------------------------------------------------------------------------------

    def env(self, scope: ScopeNode) -> Dict[str, Value]:
        """Local variables of ``scope`` with a known kind (the first such assignment wins)."""
        if scope not in self._envs:
            self._envs[scope] = {}  # guards against recursion through value_of
            self._envs[scope] = self._build_env(scope)
        return self._envs[scope]

    def lookup(self, name: str, scope: ScopeNode) -> Optional[Value]:
        v = self.env(scope).get(name)
        if v is None and scope is not self.tree:
            v = self.env(self.tree).get(name)
        return v

    def value_of(self, expr: Optional[ast.AST], scope: ScopeNode) -> Optional[Value]:
        if expr is None:
            return None
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scope)
        if isinstance(expr, ast.Lambda):
            return Value(LAMBDA, expr)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) \
                and expr.value.id == "self" and isinstance(scope, (ast.FunctionDef,
                                                                   ast.AsyncFunctionDef)):
            cls = self.enclosing_class(scope)
            return self.attr_value(cls, expr.attr) if cls is not None else None
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            v = self.value_of(expr.elt, scope)
            return Value(v.kind, v.node, v.methods, True, v.index, None, v.pool) if v else None
        if isinstance(expr, (ast.List, ast.Tuple, ast.Set)) and expr.elts:
            vs = [self.value_of(e, scope) for e in expr.elts]
            if all(v is not None for v in vs) and len({v.kind for v in vs if v}) == 1:
                v = vs[0]
                assert v is not None
                return Value(v.kind, v.node, v.methods, True, v.index, None, v.pool)
            return None
        if not isinstance(expr, ast.Call):
            return None
        q = self.qualname(expr.func)
        if q is not None and q in CONSTRUCTORS:
            kind = CONSTRUCTORS[q]
            if kind == CONTEXT:
                return Value(CONTEXT, expr, self.start_methods(
                    expr.args[0] if expr.args else keyword(expr, "method")))
            if kind == PROCESS_EXECUTOR:
                ctx = self.value_of(keyword(expr, "mp_context"), scope)
                methods = ctx.methods if ctx is not None and ctx.kind == CONTEXT \
                    else self.default_methods
                return Value(kind, expr, methods)
            return Value(kind, expr, self.default_methods)
        if q is not None and q.startswith("functools.partial") and expr.args:
            return self.value_of(expr.args[0], scope)
        call = method_call(expr)
        if call is None:
            return None
        receiver, meth = call
        rv = self.value_of(receiver, scope)
        if rv is None and meth in CONTEXT_METHODS and not isinstance(receiver, ast.Call):
            name = last_name(receiver)
            if name is not None and _CONTEXT_NAME.search(name):
                rv = Value(CONTEXT, receiver, frozenset({"?"}))
        if rv is None:
            return None
        if rv.kind == CONTEXT and meth in CONTEXT_METHODS:
            return Value(CONTEXT_METHODS[meth], expr, rv.methods)
        if rv.kind == MANAGER and not rv.element:
            return Value(PROXY, expr)
        if rv.kind in POOLS and not rv.element:
            name = receiver.id if isinstance(receiver, ast.Name) else None
            if meth in ("apply_async", "map_async", "starmap_async"):
                return Value(ASYNC_RESULT, expr, pool=name)
            if meth in ("imap", "imap_unordered"):
                return Value(IMAP_ITERATOR, expr, pool=name)
        return None

    def attr_value(self, cls: ClassInfo, attr: str) -> Optional[Value]:
        """The kind of ``self.attr`` from what the class's methods assign to it."""
        key = (id(cls), attr)
        if key in self._attr_values:
            return self._attr_values[key]
        self._attr_values[key] = None  # self.x = self.x + 1 must not recurse for ever
        found: Optional[Value] = None
        for value, meth in cls.attrs.get(attr, []):
            found = self.value_of(value, meth)
            if found is not None:
                break
        self._attr_values[key] = found
        return found

    def _bind(self, env: Dict[str, Value], target: ast.AST, value: Optional[Value],
              node: ast.AST) -> None:
        if value is None:
            return
        if isinstance(target, ast.Name):
            env.setdefault(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)) and value.kind == PIPE \
                and len(target.elts) == 2 and not value.element:
            for i, elt in enumerate(target.elts):
                if isinstance(elt, ast.Name):
                    env.setdefault(elt.id, Value(CONN, value.node, value.methods, index=i))

    def _build_env(self, scope: ScopeNode) -> Dict[str, Value]:
        env: Dict[str, Value] = {}
        self._envs[scope] = env  # value_of() of later statements sees earlier names
        for node in self.nodes(scope):
            if isinstance(node, ast.Assign):
                if len(node.targets) == 1 and isinstance(node.targets[0], (ast.Tuple, ast.List)) \
                        and isinstance(node.value, (ast.Tuple, ast.List)) \
                        and len(node.value.elts) == len(node.targets[0].elts):
                    for t, e in zip(node.targets[0].elts, node.value.elts):
                        self._bind(env, t, self.value_of(e, scope), node)
                    continue
                value = self.value_of(node.value, scope)
                for t in node.targets:
                    self._bind(env, t, value, node)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._bind(env, node.target, self.value_of(node.value, scope), node)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        cv = self.value_of(item.context_expr, scope)
                        if cv is not None:
                            cv = Value(cv.kind, cv.node, cv.methods, cv.element, cv.index,
                                       node, cv.pool)
                        self._bind(env, item.optional_vars, cv, node)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                it = self.value_of(node.iter, scope)
                if it is not None and it.element:
                    self._bind(env, node.target,
                               Value(it.kind, it.node, it.methods, False, it.index, None,
                                     it.pool), node)
            elif isinstance(node, ast.Call):
                # procs.append(p): procs is a list of what p is
                mc = method_call(node)
                if mc and mc[1] in ("append", "add") and isinstance(mc[0], ast.Name) \
                        and len(node.args) == 1:
                    av = self.value_of(node.args[0], scope)
                    if av is not None and not av.element:
                        env.setdefault(mc[0].id, Value(av.kind, av.node, av.methods, True,
                                                       av.index, None, av.pool))
        return env

    # -- work sent to other processes -----------------------------------------------------------

    def _collect_work(self) -> None:
        for scope in self.scopes:
            for call in self.calls(scope):
                if last_name(call.func) not in _WORK_NAMES:
                    continue  # cheap: most calls cannot start a process or send a task
                v = self.value_of(call, scope)
                if v is not None and v.kind == PROCESS and not v.element \
                        and v.node is call:
                    target = keyword(call, "target")
                    if target is None and len(call.args) >= 2:
                        target = call.args[1]
                    args_expr = keyword(call, "args")
                    if args_expr is None and len(call.args) >= 4:
                        args_expr = call.args[3]
                    args: Tuple[ast.expr, ...] = ()
                    if isinstance(args_expr, (ast.Tuple, ast.List)):
                        args = tuple(args_expr.elts)
                    kwargs_expr = keyword(call, "kwargs")
                    kwargs: Tuple[Tuple[str, ast.expr], ...] = ()
                    if isinstance(kwargs_expr, ast.Dict):
                        kwargs = tuple((k.value, val) for k, val in
                                       zip(kwargs_expr.keys, kwargs_expr.values)
                                       if isinstance(k, ast.Constant) and isinstance(k.value, str))
                    self.spawns.append(Spawn(scope, call, target, args, kwargs, v.methods))
                    continue
                mc = method_call(call)
                if mc is None:
                    continue
                receiver, meth = mc
                pool = self.value_of(receiver, scope)
                if pool is None or pool.element:
                    continue
                func: Optional[ast.expr] = call.args[0] if call.args else (
                    keyword(call, "func") or keyword(call, "fn"))
                if func is None:
                    continue
                if pool.kind in POOLS and meth in POOL_TASK_METHODS:
                    args = ()
                    if meth in ("apply", "apply_async"):
                        a = call.args[1] if len(call.args) > 1 else keyword(call, "args")
                        if isinstance(a, (ast.Tuple, ast.List)):
                            args = tuple(a.elts)
                    self.tasks.append(Task(scope, call, func, args, pool, meth))
                elif pool.kind in (PROCESS_EXECUTOR, THREAD_EXECUTOR) \
                        and meth in EXECUTOR_TASK_METHODS:
                    args = tuple(call.args[1:]) if meth == "submit" else ()
                    self.tasks.append(Task(scope, call, func, args, pool, meth))

    def started(self, spawn: Spawn) -> bool:
        """The process is started in the scope that makes it (``p.start()``, also through a
        list of processes): a Process that is never started sends nothing anywhere."""
        parent = self.parents.get(spawn.call)
        if isinstance(parent, ast.Attribute) and parent.attr == "start":
            return True
        for call in self.calls(spawn.scope):
            mc = method_call(call)
            if mc and mc[1] == "start":
                v = self.value_of(mc[0], spawn.scope)
                if v is not None and v.node is spawn.call:
                    return True
        return False

    def target_function(self, expr: Optional[ast.expr]) -> Optional[FuncNode]:
        """The module-level function a target or task names, if it is one."""
        if isinstance(expr, ast.Name):
            return self.functions.get(expr.id)
        if isinstance(expr, ast.Call):
            q = self.qualname(expr.func) or ""
            if q.startswith("functools.partial") and expr.args:
                return self.target_function(expr.args[0])
        return None

    def local_function(self, expr: ast.expr, scope: ScopeNode) -> Optional[FuncNode]:
        """A function defined inside ``scope`` (not at module level) that ``expr`` names."""
        if not isinstance(expr, ast.Name) or scope is self.tree:
            return None
        for node in self.nodes(scope):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == expr.id:
                return node
        return None


# -- what a function does with one of its parameters --------------------------------------------


@dataclass(frozen=True)
class ParamUse:
    methods: FrozenSet[str]  # methods called on it
    in_loop: FrozenSet[str]  # ... of those, the ones called inside a loop
    escapes: bool  # passed on, stored, or returned: other code may use it too


def param_use(mod: Module, func: FuncNode, name: str) -> ParamUse:
    methods: Set[str] = set()
    looped: Set[str] = set()
    escapes = False
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and node.id == name:
            parent = mod.parents.get(node)
            if isinstance(parent, ast.Attribute) and parent.value is node:
                grand = mod.parents.get(parent)
                if isinstance(grand, ast.Call) and grand.func is parent:
                    methods.add(parent.attr)
                    if mod.in_loop(grand, func):
                        looped.add(parent.attr)
                continue
            if isinstance(node.ctx, ast.Load):
                escapes = True
    return ParamUse(frozenset(methods), frozenset(looped), escapes)


def arg_for_param(args: Sequence[ast.expr], kwargs: Sequence[Tuple[str, ast.expr]],
                  func: FuncNode, index_or_name: Union[int, str]) -> Optional[ast.expr]:
    names = param_names(func)
    if isinstance(index_or_name, int):
        if index_or_name < len(args):
            return args[index_or_name]
        name = names[index_or_name] if index_or_name < len(names) else None
    else:
        name = index_or_name
    for k, v in kwargs:
        if k == name:
            return v
    return None


def unpicklable_attrs(mod: Module, cls: ClassInfo) -> List[Tuple[str, Value, ast.expr]]:
    """Attributes of ``cls``'s instances that cannot be pickled, unless the class says how to
    pickle itself (``__getstate__``, ``__reduce__``), in a base of this module too."""
    seen: Set[int] = set()
    todo = [cls]
    while todo:
        c = todo.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        if c.has_pickle_hooks():
            return []
        for base in c.node.bases:
            b = mod.classes.get(base.id) if isinstance(base, ast.Name) else None
            if b is not None:
                todo.append(b)
    out = []
    for attr, assigned in cls.attrs.items():
        for value, meth in assigned:
            v = mod.value_of(value, meth)
            if v is not None and v.kind in UNPICKLABLE and not v.element:
                out.append((attr, v, value))
                break
    return out
