"""Haven, the server: an offline-first help app and its advisors' side.

For people in Belgium who may be victims of human trafficking, and for the
advisors who answer them.
"""

__version__ = "0.6.0"
