# What type checkers see of the package: __init__.py loads the graph names on first use
# (module __getattr__), which a checker cannot follow; the names and types are these.
from ._api import ParseWarning as ParseWarning
from ._api import collapse as collapse
from ._api import collapse_many as collapse_many
from ._api import collapse_perf as collapse_perf
from ._api import diff as diff
from ._api import read_folded as read_folded
from ._flamefold import Diff as Diff
from ._flamefold import InternalError as InternalError
from ._flamefold import ParseError as ParseError
from ._flamefold import Profile as Profile
from ._flamefold import __version__ as __version__
from .transforms import DoctorReport as DoctorReport
from .transforms import Transformed as Transformed
from .transforms import cpi as cpi
from .transforms import doctor as doctor
from .transforms import hotcold as hotcold
from .transforms import offcpu as offcpu
from .transforms import transform as transform
from .transforms import wakeup as wakeup
from .graph import GraphWarning as GraphWarning
from .graph import flamegraph as flamegraph

