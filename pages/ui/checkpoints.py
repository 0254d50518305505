"""Which checkpoints a page offers, in what order, under what name, and which one this user picked."""

from __future__ import annotations

from collections.abc import Collection

import streamlit as st

from multigen.cache import weights_sha256
from multigen.checkpoints import Checkpoint, CheckpointInfo, describe_checkpoint, scan_checkpoints
from pages.ui.folders import checkpoint_dirs, runs_dir
from pages.ui.site import Page


def is_run(info: CheckpointInfo) -> bool:
    """True for a checkpoint trained in this app (it lives in the runs folder)."""
    try:
        info.path.resolve().relative_to(runs_dir().resolve())
        return True
    except ValueError:
        return False


def available_checkpoints(
    kinds: Collection[str] | None = None, preferred: tuple[str, ...] = ()
) -> list[CheckpointInfo]:
    """Shipped checkpoints of ``kinds`` (all kinds when None) first, ``preferred`` ones leading, then runs
    trained here, newest first.

    Reads headers only, so it is cheap enough to call on every rerun; that is how a run that just
    finished shows up in every picker.
    """
    # Not runs/<subfolder>/ work files. An unreadable file is skipped; the sidebar says why (unreadable_checkpoints).
    found, _ = scan_checkpoints(*checkpoint_dirs(), recursive=False)
    if kinds is not None:
        found = [info for info in found if info.kind in kinds]

    def order(info: CheckpointInfo) -> tuple:
        if is_run(info):
            return (1, 0, -info.path.stat().st_mtime, str(info.path))
        rank = preferred.index(info.path.stem) if info.path.stem in preferred else len(preferred)
        return (0, rank, 0.0, str(info.path))

    return sorted(found, key=order)


def unreadable_checkpoints() -> list[str]:
    """Why each checkpoint file the pickers skip could not be read: one line each, naming the file and what to do."""
    return [str(error) for error in scan_checkpoints(*checkpoint_dirs(), recursive=False)[1]]


def offered(page: Page) -> list[CheckpointInfo]:
    """The checkpoints ``page``'s picker lists."""
    return available_checkpoints(page.kinds, page.preferred)


def name_of(info: CheckpointInfo) -> str:
    """``vae-2``, or ``run · vae-mnist-5k-…`` for a run trained here."""
    return f"run · {info.path.stem}" if is_run(info) else info.path.stem


def checkpoint_label(info: CheckpointInfo) -> str:
    """``vae-2 — VAE, latent 2, epoch 30, mnist-5k`` (``run ·`` in front of runs trained here)."""
    return f"{name_of(info)} — {describe_checkpoint(info.metadata)}"


def picker_key(page: Page) -> str:
    """The session key of ``page``'s checkpoint picker; setting it picks a checkpoint for that page."""
    return f"checkpoint_{page.key}"


def selected_checkpoint(page: Page) -> CheckpointInfo | None:
    """The checkpoint this user picked for ``page`` (the first one offered by default)."""
    infos = offered(page)
    chosen = st.session_state.get(picker_key(page))
    for info in infos:
        if str(info.path) == chosen:
            return info
    return infos[0] if infos else None


def fingerprint(info: CheckpointInfo | Checkpoint) -> str:
    """What identifies a checkpoint's weights for disk caches (the t-SNE maps): the SHA-256 of its ``model/`` tensors."""
    return weights_sha256(info.path)
