"""A bad-input error that names the file, and the skip-bad loop the builders share.

Real datasets are large and a few files in a user's copy may be truncated or malformed.
By default the first bad file stops preparation with a message naming it; with
`skip_bad=True` each bad file is logged and left out, so one broken render does not cost
a multi-hour preparation run.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class BadInputError(ValueError):
    """A malformed input file: the message names the file, the problem and what was expected."""

    def __init__(self, path: str | os.PathLike, problem: str, expected: str):
        self.path = os.fspath(path)
        self.problem = problem
        self.expected = expected
        super().__init__(f"{self.path}: {problem}; expected {expected}")


def iter_good(
    items: Iterable[T],
    convert: Callable[[T], R],
    skip_bad: bool,
    what: str,
) -> Iterator[R]:
    """Yield convert(item) for each item; a BadInputError stops (default) or is logged and skipped.

    Raises BadInputError if `skip_bad` left nothing at all, since an empty split is never what a
    user wants and TFDS would otherwise fail later with a less helpful message.
    """
    total = skipped = 0
    last_error: BadInputError | None = None
    for item in items:
        total += 1
        try:
            result = convert(item)
        except BadInputError as err:
            if not skip_bad:
                raise
            skipped += 1
            last_error = err
            log.warning("skipping bad %s: %s", what, err)
            continue
        yield result
    if skipped:
        log.warning("skipped %d of %d %s (skip_bad=True)", skipped, total, what)
        if skipped == total:
            raise BadInputError(
                last_error.path if last_error else "<input>",
                f"all {total} {what} were bad (last: {last_error.problem if last_error else '?'})",
                f"at least one readable {what}",
            )


def find_data_root(
    manual_dir: str | os.PathLike,
    candidates: Iterable[str],
    looks_right: Callable[[Path], bool],
    expected: str,
) -> Path:
    """The first of manual_dir/<candidate> for which `looks_right` holds.

    Lets one --manual-dir hold several datasets (each in a folder named after its builder or
    after the archive's own top folder), or point straight at one dataset.
    """
    manual_dir = Path(manual_dir)
    tried = [manual_dir / c for c in candidates]
    for path in tried:
        if path.is_dir() and looks_right(path):
            return path
    raise BadInputError(
        manual_dir, "holds no dataset in any of " + ", ".join(str(p) for p in tried), expected
    )
