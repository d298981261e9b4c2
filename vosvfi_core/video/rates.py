"""Frame rates as exact fractions: parsing ``--fps``/``--input-fps`` and turning a target rate into a factor."""

from __future__ import annotations

from fractions import Fraction

from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import SUPPORTED_FACTORS

__all__ = ["parse_rate", "factor_for_rate", "format_rate"]

# A decimal target such as 59.94 for an NTSC input of 30000/1001 is 2 to within 1e-5.
_RELATIVE_TOLERANCE = 1e-3


def parse_rate(text: str, *, option: str = "--fps") -> Fraction:
    """``"60"``, ``"59.94"`` or ``"60000/1001"`` as a positive Fraction; one line otherwise."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise VosvfiError(f"{option} {text!r}: expected a frame rate such as 60, 59.94 or 60000/1001") from None
    if rate <= 0:
        raise VosvfiError(f"{option} {text!r}: a frame rate must be positive")
    return rate


def format_rate(rate: Fraction) -> str:
    """``50`` for whole rates, else ``59.94 (60000/1001)``."""
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.4g} ({rate})"


def factor_for_rate(input_rate: Fraction, target: Fraction) -> int:
    """The factor (2, 4 or 8) that takes ``input_rate`` to ``target``; one line when there is none."""
    ratio = target / input_rate
    factor = round(ratio)
    if factor in SUPPORTED_FACTORS and abs(ratio - factor) <= _RELATIVE_TOLERANCE * factor:
        return factor
    choices = ", ".join(format_rate(input_rate * f) for f in SUPPORTED_FACTORS)
    raise VosvfiError(f"--fps {format_rate(target)} is not 2, 4 or 8 times the input's {format_rate(input_rate)} fps; use one of {choices}")
