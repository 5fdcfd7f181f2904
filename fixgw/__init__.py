"""fixgw: a crypto execution gateway (EMS core) speaking FIX 4.4 upstream and ccxt downstream."""

__version__ = "0.1.0"
