"""Which pickle globals gate trusts, and which it knows to be code execution.

This module is data, reviewed like code: every name on ``ALLOWED`` can be
imported and called by an unpickler without running anything but the
reconstruction of tensors, arrays, containers and estimator state.
Everything not allowed is at least *suspicious* (the profile decides
whether that blocks); :func:`gate.formats.pickle.classify` escalates a
global to *dangerous* when its module, its dotted path or its final name
is a known way to run code, touch files or the network, or unpickle again.

Names are written the way pickles write them (``module.qualname`` after
the Python-2 import fixes the unpickler applies), never resolved by import.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    """The whitespace-separated words of *text* (long name lists stay readable)."""
    return text.split()


# -- PyTorch: what torch.save writes for tensors, parameters and storages ------------
# The tensor rebuild functions, layout/device/size helpers and dtype objects that
# torch's own weights-only unpickler accepts.
TORCH_REBUILD = frozenset(
    {
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_nested_tensor",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch._utils._rebuild_device_tensor_from_cpu_tensor",
        "torch._tensor._rebuild_from_type_v2",
        "torch.tensor._rebuild_from_type_v2",  # torch < 1.10 wrote the module without the underscore
        "torch.serialization._get_layout",
        "torch.Size",
        "torch.Tensor",
        "torch.device",
        "torch.nn.parameter.Parameter",
        "torch.nn.parameter.Buffer",
        "torch.storage.TypedStorage",
        "torch.storage.UntypedStorage",
        "torch.per_tensor_affine",
        "torch.per_tensor_symmetric",
        "torch.per_channel_affine",
        "torch.per_channel_symmetric",
        "torch.per_channel_affine_float_qparams",
        "torch.strided",
        "torch.sparse_coo",
        "torch.sparse_csr",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.preserve_format",
    }
)

# dtype objects (``torch.float32`` ...) as they appear in tensor metadata.
TORCH_DTYPES = frozenset(
    "torch." + n
    for n in _words(
        """
        bfloat16 bits16 bits1x8 bits2x4 bits4x2 bits8 bool complex128 complex32 complex64
        float16 float32 float64 float4_e2m1fn_x2 float8_e4m3fn float8_e4m3fnuz float8_e5m2
        float8_e5m2fnuz float8_e8m0fnu half float double long int short cfloat cdouble int1
        int2 int3 int4 int5 int6 int7 int8 int16 int32 int64 uint1 uint2 uint3 uint4 uint5
        uint6 uint7 uint8 uint16 uint32 uint64 qint32 qint8 quint2x4 quint4x2 quint8
        """
    )
)

# Legacy typed storage and tensor classes (``torch.FloatStorage``), CPU and CUDA.
_STORAGE_KINDS = _words(
    """
    BFloat16 Bool Byte Char ComplexDouble ComplexFloat Double Float Half Int Long Short
    QInt32 QInt8 QUInt2x4 QUInt4x2 QUInt8
    """
)
TORCH_STORAGES = frozenset(
    f"{prefix}.{kind}{suffix}"
    for prefix in ("torch", "torch.cuda")
    for kind in _STORAGE_KINDS
    for suffix in ("Storage", "Tensor")
) | frozenset(
    f"{prefix}.{kind}Tensor"
    for prefix in ("torch.sparse", "torch.cuda.sparse")
    for kind in ["BFloat16", "Byte", "Char", "Double", "Float", "Half", "Int", "Long", "Short"]
)

# Activation functions whole-module saves keep as attributes (TransformerEncoderLayer
# stores F.relu): pure tensor functions.
TORCH_FUNCTIONAL = frozenset(
    "torch.nn.functional." + n
    for n in _words(
        """
        relu relu6 gelu silu mish tanh sigmoid softmax log_softmax softplus softsign elu selu
        celu leaky_relu hardtanh hardswish hardsigmoid glu logsigmoid tanhshrink softshrink
        hardshrink prelu rrelu
        """
    )
)

# -- TorchScript archives: the list builders of their debug and constant pickles -----
# torch/jit/_pickle.py: each returns its argument unchanged (restore_type_tag too).
# The archive's ``__torch__.*`` classes are TorchScript compiled from its ``code/``
# folder, which torch.jit.load runs and gate does not analyse: they stay off this list.
TORCHSCRIPT_BUILDERS = frozenset(
    "torch.jit._pickle." + n
    for n in _words(
        """
        build_intlist build_tensorlist build_doublelist build_boollist build_genericlist
        build_tensor_from_id restore_type_tag
        """
    )
)

# -- Inert names: type objects and pure functions of the values they are given -------
# Seen in benign pickles (annotations kept on dataclasses, type hints stored in
# configs). Calling any of these runs nothing but the dunders of values the stream
# itself built, all of which come from this allowlist.
INERT = frozenset(
    {
        "builtins.len",
        "builtins.abs",
        "builtins.min",
        "builtins.max",
        "builtins.sum",
        "builtins.round",
        "builtins.divmod",
        "__future__.annotations",
        "__future__._Feature",
        "typing.Any",
        "typing.Optional",
        "typing.Union",
        "typing.List",
        "typing.Dict",
        "typing.Tuple",
    }
    | {
        f"{module}.{name}"
        for module in ("collections.abc", "_collections_abc")
        for name in _words(
            """
            Iterable Iterator Generator Reversible Container Collection Callable Sized Hashable
            Sequence MutableSequence Set MutableSet Mapping MutableMapping MappingView KeysView
            ItemsView ValuesView ByteString Awaitable Coroutine AsyncIterable AsyncIterator
            """
        )
    }
)

# -- Containers and scalars from the standard library --------------------------------
# Only types whose construction runs no user-chosen code. ``builtins.getattr``,
# ``builtins.type`` and every function of builtins stay off this list.
STDLIB = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "collections.defaultdict",
        "collections.deque",
        "builtins.set",
        "builtins.frozenset",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.slice",
        "builtins.complex",
        "builtins.range",
        "builtins.object",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bool",
        "builtins.list",
        "builtins.dict",
        "builtins.tuple",
        "builtins.Ellipsis",
        "builtins.NotImplemented",
        # protocol 0-2 helpers the pickler itself emits
        "copyreg._reconstructor",
        "_codecs.encode",
        # values people keep in checkpoints' metadata
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "pathlib.Path",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.PurePath",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "pathlib._local.Path",
        "pathlib._local.PosixPath",
        "pathlib._local.WindowsPath",
        "pathlib._local.PurePath",
        "pathlib._local.PurePosixPath",
        "pathlib._local.PureWindowsPath",
        "argparse.Namespace",
        "types.SimpleNamespace",
    }
)

# -- NumPy: arrays, dtypes, scalars and random generator state ------------------------
_NUMPY_SCALARS = _words(
    """
    bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 float32 float64
    longdouble complex64 complex128 clongdouble str_ bytes_ void datetime64 timedelta64
    intc uintc int_ uint longlong ulonglong half single double csingle cdouble object_
    """
)
NUMPY = frozenset(
    {
        f"{core}.{name}"
        for core in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {f"{core}._frombuffer" for core in ("numpy.core.numeric", "numpy._core.numeric")}
    | {
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.ma.core._mareconstruct",
        "numpy.ma.core.MaskedArray",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random.__RandomState_ctor",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
    }
    | {f"numpy.{name}" for name in _NUMPY_SCALARS}
    | {
        f"numpy.dtypes.{kind}DType"
        for kind in _words(
            """
            Bool Int8 Int16 Int32 Int64 UInt8 UInt16 UInt32 UInt64 Float16 Float32 Float64
            LongDouble Complex64 Complex128 CLongDouble Str Bytes Void Object DateTime64
            TimeDelta64 Byte UByte Short UShort Int UInt Long ULong LongLong ULongLong
            """
        )
    }
)

# -- joblib: its array placeholder (the array bytes follow it in the file) ------------
# The pre-0.10 NDArrayWrapper/ZNDArrayWrapper are left out on purpose: they name a
# side file that joblib opens (with numpy.load), a path chosen by the pickle.
JOBLIB = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)

# -- scikit-learn: Cython helpers fitted estimators pickle --------------------------
# Estimator *classes* are accepted by rule (see CLASS_NAMESPACES); these are the few
# functions their Cython extension types use to rebuild themselves.
SKLEARN_HELPERS = frozenset(
    {
        "sklearn.metrics._dist_metrics.newObj",
        "sklearn.neighbors._kd_tree.newObj",
        "sklearn.neighbors._ball_tree.newObj",
        "sklearn.neighbors._binary_tree.newObj",
    }
)

# -- SciPy sparse matrices (fitted text vectorisers, sparse coefficients) --------------
SCIPY_SPARSE = frozenset(
    f"scipy.sparse.{mod}.{kind}_{suffix}"
    for mod, kind in (
        ("_csr", "csr"),
        ("_csc", "csc"),
        ("_coo", "coo"),
        ("_bsr", "bsr"),
        ("_dia", "dia"),
        ("_lil", "lil"),
        ("_dok", "dok"),
        ("csr", "csr"),
        ("csc", "csc"),
        ("coo", "coo"),
    )
    for suffix in ("matrix", "array")
)

# -- Training metadata people save next to weights -----------------------------------
# Hugging Face ``training_args.bin`` (a pickled TrainingArguments dataclass and its enums),
# Lightning hyper-parameter dicts, torch's version string. Dataclasses and enums: rebuilt by
# NEWOBJ + a __dict__ update or by value lookup; their constructors and state run no code.
TRAINING_METADATA = frozenset(
    {
        "torch.torch_version.TorchVersion",
        "transformers.training_args.TrainingArguments",
        "transformers.training_args.OptimizerNames",
        "transformers.training_args_seq2seq.Seq2SeqTrainingArguments",
        "transformers.trainer_utils.IntervalStrategy",
        "transformers.trainer_utils.SaveStrategy",
        "transformers.trainer_utils.SchedulerType",
        "transformers.trainer_utils.HubStrategy",
        "transformers.trainer_utils.FSDPOption",
        "transformers.debug_utils.DebugOption",
        "transformers.trainer_pt_utils.AcceleratorConfig",
        "accelerate.utils.dataclasses.DistributedType",
        "trl.trainer.sft_config.SFTConfig",
        "trl.trainer.dpo_config.DPOConfig",
        "trl.trainer.grpo_config.GRPOConfig",
        "lightning_fabric.utilities.data.AttributeDict",
        "lightning.fabric.utilities.data.AttributeDict",
        "pytorch_lightning.utilities.parsing.AttributeDict",
    }
)

ALLOWED = (
    TORCH_REBUILD
    | TORCH_FUNCTIONAL
    | TORCH_DTYPES
    | TORCH_STORAGES
    | STDLIB
    | NUMPY
    | JOBLIB
    | SKLEARN_HELPERS
    | SCIPY_SPARSE
    | TRAINING_METADATA
    | TORCHSCRIPT_BUILDERS
    | INERT
)

# A class (CapWords name, no dotted attribute path, no dunder module) from one of these
# module trees is reconstruction state, not code: fitted scikit-learn estimators and
# their Cython helper types, torch.nn layers saved as whole modules. A lower-case name
# there is a function and stays suspicious.
CLASS_NAMESPACES = ("sklearn.", "torch.nn.modules.")

# Module trees inside an otherwise trusted namespace that are never reconstruction state.
CLASS_NAMESPACE_EXCEPTIONS = (
    "sklearn.utils._testing",
    "sklearn.utils._show_versions",
    "sklearn.datasets",
    "sklearn.externals",
    "sklearn.utils.fixes",
    # progress bars and the callback transport: threads, queues and sockets
    "sklearn.callback",
    "sklearn.utils._repr_html",
    "sklearn.utils.parallel",
    "sklearn.utils._joblib",
    "torch.nn.modules._functions",
)

# Module path components that mark test code inside a trusted namespace (with any
# component starting ``test_`` or ``_test``): never reconstruction state.
CLASS_NAMESPACE_TEST_PARTS = frozenset({"tests", "test", "testing", "conftest"})

# Allowlisted callables that themselves call (or construct) one of their arguments:
# argument position -> the argument must be an imported global (checked on its own),
# never a value computed by another call.
HIGHER_ORDER: dict[str, tuple[int, ...]] = {
    "copyreg._reconstructor": (0, 1),
    "torch._tensor._rebuild_from_type_v2": (0, 1),
    "torch.tensor._rebuild_from_type_v2": (0, 1),
    "torch._utils._rebuild_wrapper_subclass": (0,),
    "collections.defaultdict": (0,),
    "numpy.core.multiarray._reconstruct": (0,),
    "numpy._core.multiarray._reconstruct": (0,),
    "numpy.random._pickle.__bit_generator_ctor": (0,),
    "numpy.random._pickle.__generator_ctor": (1,),
    "numpy.random._pickle.__randomstate_ctor": (1,),
    "sklearn.metrics._dist_metrics.newObj": (0,),
    "sklearn.neighbors._kd_tree.newObj": (0,),
    "sklearn.neighbors._ball_tree.newObj": (0,),
    "sklearn.neighbors._binary_tree.newObj": (0,),
}

# Allowlisted callables that setattr() every key of one argument onto the object they
# build: argument position -> a dunder key there (``__class__``) rewires the object.
SETATTR_STATE: dict[str, int] = {
    "torch._utils._rebuild_parameter_with_state": 3,
    "torch._tensor._rebuild_from_type_v2": 3,
    "torch.tensor._rebuild_from_type_v2": 3,
}

# Allowlisted callables whose arguments must all be constants (str/bytes/numbers).
CONSTANT_ARGS = frozenset({"_codecs.encode"})
CODECS_ENCODINGS = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "ascii", "utf-8"})

# -- What makes a global dangerous ---------------------------------------------------
# Module aliases the interpreter resolves before matching (C modules behind the
# public ones, Python 2 names the unpickler maps for protocols < 3 and some it does not).
MODULE_ALIASES = {
    "__builtin__": "builtins",
    "__builtins__": "builtins",
    "exceptions": "builtins",
    "posix": "os",
    "nt": "os",
    "posixpath": "os.path",
    "ntpath": "os.path",
    "_posixsubprocess": "subprocess",
    "commands": "subprocess",
    "popen2": "subprocess",
    "_io": "io",
    "_pyio": "io",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "_compat_pickle": "pickle",
    "_operator": "operator",
    "_functools": "functools",
    "copy_reg": "copyreg",
    "_thread": "threading",
    "thread": "threading",
    "_socket": "socket",
    "_ssl": "ssl",
    "_ctypes": "ctypes",
    "_winapi": "subprocess",
    "_multiprocessing": "multiprocessing",
    "_posixshmem": "multiprocessing",
    "_signal": "signal",
    "_imp": "importlib",
    "imp": "importlib",
    "_frozen_importlib": "importlib",
    "_frozen_importlib_external": "importlib",
    "_sitebuiltins": "builtins",
    "_bz2": "bz2",
    "_lzma": "lzma",
    "_sqlite3": "sqlite3",
    "_asyncio": "asyncio",
    "urllib2": "urllib",
    "httplib": "http",
}

# A global is dangerous when its (alias-resolved) dotted path starts with one of these.
DENY_PREFIXES = frozenset(
    {
        # processes, the interpreter, code objects
        "os",
        "subprocess",
        "pty",
        "signal",
        "sys",
        "builtins",
        "runpy",
        "code",
        "codeop",
        "compileall",
        "py_compile",
        "ast",
        "dis",
        "types",
        "marshal",
        "importlib",
        "zipimport",
        "pkgutil",
        "site",
        "sysconfig",
        "inspect",
        "gc",
        "atexit",
        "ctypes",
        "cffi",
        "multiprocessing",
        "concurrent",
        "threading",
        "asyncio",
        "sched",
        # debuggers, profilers and test runners that execute strings
        "bdb",
        "pdb",
        "cProfile",
        "profile",
        "timeit",
        "trace",
        "doctest",
        "unittest",
        "pydoc",
        "idlelib",
        "tkinter",
        "turtle",
        "turtledemo",
        "antigravity",
        "this",
        "IPython",
        "ipykernel",
        # other deserializers: a second pickle hidden behind an allowed one
        "pickle",
        "pickletools",
        "copyreg",
        "shelve",
        "dbm",
        "dill",
        "cloudpickle",
        "joblib",
        "yaml",
        "jsonpickle",
        "torch.load",
        "torch.serialization",
        "torch.storage._load_from_bytes",
        "torch.jit",
        "torch._dynamo",
        "torch._inductor",
        "torch.compile",
        "torch.fx",
        "torch.package",
        "torch.hub",
        "torch.ops",
        "torch._ops",
        "torch.library",
        "torch.utils.cpp_extension",
        # torch.distributed: remote calls, process launchers, collectives that unpickle
        # objects, checkpoint readers (its tensor/placement classes stay merely suspicious)
        "torch.distributed.rpc",
        "torch.distributed.run",
        "torch.distributed.launch",
        "torch.distributed.launcher",
        "torch.distributed.elastic",
        "torch.distributed.checkpoint",
        "torch.distributed.distributed_c10d",
        "torch.distributed.autograd",
        "torch.multiprocessing",
        "torch.testing",
        "torch._C",
        "torch._classes",
        "torch.classes",
        "torch.backends",
        "torch.export",
        "numpy.load",
        "numpy.loads",
        "numpy.lib.npyio",
        "numpy.lib.format",
        "numpy.fromfile",
        "numpy.memmap",
        "numpy.save",
        "numpy.savez",
        "numpy.savetxt",
        "numpy.loadtxt",
        "numpy.genfromtxt",
        "numpy.testing",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.ctypeslib",
        "numpy.lib.utils",
        "numpy.core._multiarray_umath",
        "numpy._core._multiarray_umath",
        "pandas.read_pickle",
        "pandas.io",
        "pandas.eval",
        "pandas.core.computation",
        "sympy.sympify",
        "sympy.core.sympify",
        "sympy.parsing",
        "jinja2",
        "mako",
        # callable factories and attribute gadgets
        "operator",
        "functools",
        # files, archives, the network
        "io",
        "codecs",
        "shutil",
        "tempfile",
        "glob",
        "fileinput",
        "linecache",
        "mmap",
        "fcntl",
        "zipfile",
        "tarfile",
        "gzip.open",
        "gzip.GzipFile",
        "bz2.open",
        "bz2.BZ2File",
        "lzma.open",
        "lzma.LZMAFile",
        "sqlite3",
        "logging",
        "socket",
        "socketserver",
        "ssl",
        "select",
        "selectors",
        "http",
        "urllib",
        "urllib3",
        "requests",
        "httpx",
        "aiohttp",
        "ftplib",
        "smtplib",
        "poplib",
        "imaplib",
        "telnetlib",
        "nntplib",
        "xmlrpc",
        "webbrowser",
        "uuid._get_command_stdout",
        "platform.popen",
        "platform._syscmd_ver",
        "platform._syscmd_file",
        # installers
        "pip",
        "setuptools",
        "distutils",
        "ensurepip",
        "venv",
        "__main__.__builtins__",
    }
)

# Attribute names that make any dotted path dangerous, wherever they appear: they
# reach the interpreter, a module's globals, or run/load something.
DENY_COMPONENTS = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "builtins",
        "__builtins__",
        "__builtin__",
        "__globals__",
        "__import__",
        "__subclasses__",
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__delattr__",
        "__reduce__",
        "__reduce_ex__",
        "__code__",
        "__dict__",
        "__loader__",
        "__spec__",
        "__class__",
        "__bases__",
        "__mro__",
        "__init_subclass__",
        "__call__",
        "__self__",
        "__func__",
        "__wrapped__",
        "__closure__",
        "__setstate__",
        "__new__",
        "__init__",
        "system",
        "popen",
        "popen2",
        "popen3",
        "popen4",
        "exec",
        "execfile",
        "eval",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "open",
        "urlopen",
        "FileIO",
        "load",
        "loads",
        "load_module",
        "import_module",
        "resolve_name",
        "locate",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "partial",
        "spawn",
        "spawnv",
        "spawnve",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnvp",
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execvp",
        "execvpe",
        "fork",
        "forkpty",
        "posix_spawn",
        "Popen",
        "check_output",
        "check_call",
        "getoutput",
        "getstatusoutput",
        "run_path",
        "run_module",
        "_run_code",
        "_run_module_code",
        "runctx",
        "runcall",
        "runcode",
        "runsource",
        "runeval",
        "runstring",
        "run_script",
        "debug_script",
        "CDLL",
        "PyDLL",
        "WinDLL",
        "OleDLL",
        "LoadLibrary",
        "dlopen",
        "cdll",
        "pydll",
        "windll",
        "unlink",
        "remove",
        "rmtree",
        "rmdir",
        "write_text",
        "write_bytes",
        "touch",
        "symlink_to",
        "hardlink_to",
        "chmod",
        "rename",
        "replace",
        "mkdir",
        "makedirs",
        "copyfile",
        "_get_command_stdout",
        "spawnv_passfds",
        "_start",
        "_execute_child",
        "_fork_exec",
        "fork_exec",
        "register",
        "add_extension",
        "_extension_registry",
        "_inverted_registry",
        "get_server_certificate",
        "create_connection",
        "socket",
        "main",
        # import-by-name gadgets in otherwise ordinary libraries
        "_ufunc_reconstruct",
        "_import_dotted_name",
        "import_string",
        "import_object",
        "load_object",
        "dynamic_import",
        "get_class",
        "get_method",
        "_locate",
        "instantiate",
        # classes whose construction alone starts a process, a thread, a server or a
        # connection, or creates files; reachable through any module that imports them
        "Process",
        "Thread",
        "Timer",
        "Pool",
        "ThreadPool",
        "ThreadPoolExecutor",
        "ProcessPoolExecutor",
        "Listener",
        "Client",
        "Connection",
        "SocketType",
        "HTTPServer",
        "ThreadingHTTPServer",
        "TCPServer",
        "UDPServer",
        "UnixStreamServer",
        "ThreadingTCPServer",
        "SimpleXMLRPCServer",
        "HTTPConnection",
        "HTTPSConnection",
        "TemporaryDirectory",
        "NamedTemporaryFile",
        "SpooledTemporaryFile",
        "TemporaryFile",
        "ZipFile",
        "PyZipFile",
        "TarFile",
        "GzipFile",
        "BZ2File",
        "LZMAFile",
        "BufferedWriter",
        "BufferedRandom",
        "TextIOWrapper",
        "FileHandler",
        "RotatingFileHandler",
        "TimedRotatingFileHandler",
        "WatchedFileHandler",
        "SocketHandler",
        "DatagramHandler",
        "SysLogHandler",
        "HTTPHandler",
        "SMTPHandler",
        "Mock",
        "MagicMock",
        "AsyncMock",
        "NonCallableMock",
        "NonCallableMagicMock",
        "PropertyMock",
        "Memory",
        "Parallel",
        "LokyBackend",
        "MultiprocessingBackend",
        "ThreadingBackend",
        "ThreadpoolController",
        "Interpreter",
        "InteractiveInterpreter",
        "InteractiveConsole",
        "Pdb",
        "Bdb",
        "Profile",
        "Trace",
        "DocTestRunner",
        "Template",
        "Environment",
        "SourceFileLoader",
        "ExtensionFileLoader",
        "ModuleSpec",
    }
)
