"""Train: set up a run, start it, and watch the model learn; pause, resume or stop it at any time.

The run lives in the app's one ``TrainingJob`` (a background thread that never calls Streamlit),
so it goes on when you switch pages or reload, and every browser tab sees the same run. The live
area below is a fragment that redraws the job's state every second while a run is active.
"""

from __future__ import annotations

import math

import streamlit as st

from multigen.data import DATASETS, MAX_SEED
from multigen.errors import MultigenError
from multigen.models import display_name, kinds
from multigen.training import TrainingConfig, run_path
from multigen.training.precision import describe_precisions
from pages.ui import charts, loaders
from pages.ui.checkpoints import picker_key
from pages.ui.folders import display_path, runs_dir
from pages.ui.pictures import show_picture
from pages.ui.shell import run_inside_app
from pages.ui.site import page_for_model
from pages.ui.text import plain

run_inside_app()  # a page opened on its own goes through app.py (see pages/ui/shell.py)

DATASET_NAMES = {"mnist-5k": "mnist-5k (bundled, offline)", "mnist": "MNIST (60,000)", "fashion-mnist": "Fashion-MNIST"}
STATUS_TEXT = {
    "idle": "No run yet.", "starting": "Starting…", "running": "Training", "paused": "Paused",
    "finished": "Finished", "stopped": "Stopped", "failed": "Failed",
}
LIVE_EVERY = 1.0  # seconds between redraws while a run is active
IDLE_EVERY = 5.0  # seconds between checks for a run started in another tab

st.session_state.setdefault("train_seen_active", False)  # whether this tab last drew an active run
st.session_state.setdefault("grid_follow", True)  # the grid scrubber follows the newest grid

job = loaders.training_job()

st.title("Train")
st.caption(
    "Train a model on the digits and watch it learn. The run keeps going when you switch pages or reload, "
    "and every tab sees it. When it finishes or you stop it, it is saved as a checkpoint and appears in the "
    "checkpoint pickers of the other pages."
)

# -- inputs ---------------------------------------------------------------------------------------
active = job.state().active
with st.form("train_form", border=True):
    left, middle, right = st.columns(3)
    model = left.selectbox(
        "Model", kinds(), format_func=display_name, key="train_model", persist_state="session",
        help="VAEs learn a map of the digits you can explore; GANs learn to draw them from noise. "
        f"{' and '.join(map(display_name, kinds(conditional=True)))} are conditional: told which digit to draw.",
    )
    dataset = left.selectbox(
        "Dataset", list(DATASETS), format_func=lambda name: DATASET_NAMES.get(name, name), key="train_dataset",
        persist_state="session", help="mnist-5k ships with the app; MNIST and Fashion-MNIST need their files.",
    )
    epochs = middle.number_input(
        "Epochs", value=10, step=1, key="train_epochs", persist_state="session",
        help="Passes over the training images.",
    )
    batch_size = middle.number_input(
        "Batch size", value=64, step=16, key="train_batch_size", persist_state="session",
        help="Images per gradient step.",
    )
    latent_dim = middle.number_input(
        "Latent size", value=None, step=1, placeholder="model default (VAE 16, GAN 100)", key="train_latent_dim",
        persist_state="session", help="Size of the VAE's latent code or the GAN's noise vector; 2 gives a VAE map "
        "you can read directly.",
    )
    learning_rate = right.number_input(
        "Learning rate", value=None, step=1e-4, format="%.5f", placeholder="model default (VAE 0.001, GAN 0.0002)",
        key="train_learning_rate", persist_state="session", help="Adam step size.",
    )
    seed = right.number_input(
        "Seed", value=0, min_value=0, max_value=MAX_SEED, step=1, key="train_seed", persist_state="session",
        help="The same seed gives the same run on the CPU.",
    )
    precisions = describe_precisions()
    precision = right.selectbox(
        "Precision", list(precisions), format_func=precisions.get, key="train_precision", persist_state="session",
        help="bf16 runs the forward and backward passes in bfloat16 (autocast) on a CPU with AMX or AVX-512 BF16 "
        "or a GPU's tensor cores, with the weights, optimizer state and losses in float32; auto picks it where "
        "the chip has those units.",
    )
    submitted = st.form_submit_button(
        "Start training", type="primary", disabled=active, key="train_start",
        help="A run is going on: stop it first." if active else "Start a run with these settings.",
    )

# -- calls into multigen --------------------------------------------------------------------------
start_error = None
if submitted:
    config = TrainingConfig(
        model=model, dataset=dataset, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        latent_dim=latent_dim, seed=seed, device="auto", precision=precision, out=str(run_path(model, dataset, runs_dir())),
    )
    try:
        job.start(config)
    except MultigenError as error:  # a bad field (one line, no traceback), or a run started meanwhile elsewhere
        start_error = str(error)
    else:
        st.session_state.update(grid_follow=True, grid_index=0)
        st.rerun()  # redraw the form with Start disabled and the live area polling

if start_error:
    st.error(plain(start_error), icon=":material/error:")
elif active:
    st.info("A run is going on (it may have been started in another tab): pause, resume or stop it below. "
            "Stop it, or wait for it to finish, to start another.", icon=":material/hourglass_top:")


# -- drawing: the live area -----------------------------------------------------------------------
def format_seconds(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s`` or ``12 s``; ``…`` while unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "…"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def _scrubbed() -> None:
    # Remember where the user scrubbed to; back at the right end, follow the newest grid again.
    index = st.session_state["grid_scrub"]
    st.session_state["grid_index"] = index
    st.session_state["grid_follow"] = index >= st.session_state.get("grid_last", 0)


def draw_controls(state) -> None:
    """Pause, Resume and Stop; their callbacks act before the redraw, so the buttons show the new state."""
    pause_col, resume_col, stop_col, _ = st.columns([1, 1, 1, 4])
    pause_col.button(
        "Pause", key="train_pause", on_click=job.pause, disabled=state.status != "running", icon=":material/pause:"
    )
    resume_col.button(
        "Resume", key="train_resume", on_click=job.resume, disabled=state.status != "paused",
        icon=":material/play_arrow:",
    )
    stop_col.button(
        "Stop", key="train_stop", on_click=job.stop, disabled=not state.active, icon=":material/stop:",
        help="End the run after the current step; it is saved first.",
    )


def draw_progress(state) -> None:
    config = state.config or {}
    name = display_name(config.get("model", ""))
    header = f"**{STATUS_TEXT.get(state.status, state.status)}** · {name} on {config.get('dataset', '')}"
    if state.device:
        header += f" · {state.device}"
    st.markdown(header)
    detail = f"Epoch {state.epoch}/{state.epochs} · step {state.step:,}/{state.total_steps:,}"
    if state.status == "running":
        detail += f" · {state.images_per_second:,.0f} images/s · ETA {format_seconds(state.eta_seconds)}"
    st.progress(min(max(state.fraction, 0.0), 1.0), text=detail)


def draw_grids(state) -> None:
    st.markdown("**Samples from fixed noise**")
    grids = state.grids
    if not grids:
        st.caption("The first grid appears as soon as the model is built.")
        return
    last = len(grids) - 1
    index = last
    if last >= 1:
        st.session_state["grid_last"] = last
        wanted = st.session_state.get("grid_index", last)
        st.session_state["grid_scrub"] = last if st.session_state["grid_follow"] else min(max(wanted, 0), last)
        index = st.slider(
            "Scrub through earlier grids", 0, last, key="grid_scrub", on_change=_scrubbed,
            help="Drag left to see how the samples looked earlier; at the right end it follows the newest grid.",
        )
    epoch, step, grid = grids[index]
    conditional = (state.config or {}).get("model") in kinds(conditional=True)
    caption = f"Epoch {epoch}, step {step:,}" + (" · column = digit asked for" if conditional else "")
    show_picture(grid, factor=2, caption=caption)


def draw_latent(state) -> None:
    snapshot = state.latent
    if snapshot is None:
        return
    st.markdown("**Latent map of 500 validation digits**")
    figure = charts.latent_map_figure(snapshot.points, snapshot.labels, height=380)
    st.plotly_chart(figure)
    st.caption(f"Latent means at epoch {snapshot.epoch}, step {snapshot.step:,} (two principal axes when the latent "
               "has more than two dimensions). Watch the digits pull apart into clusters.")


def draw_result(state) -> None:
    if state.status == "failed":
        st.error(plain(state.error or "The run failed."), icon=":material/error:")
    elif state.status in ("finished", "stopped") and state.checkpoint:
        verb = "finished" if state.status == "finished" else "was stopped"
        st.success(
            f"The run {verb} and is saved as `{display_path(state.checkpoint)}`; it is now in the "
            "checkpoint pickers.", icon=":material/check_circle:",
        )
        target = page_for_model((state.config or {}).get("model", ""))
        if target is not None and st.button(
            f"Open it in the {target.title}", key="train_open", icon=":material/arrow_forward:"
        ):
            st.session_state[picker_key(target)] = str(state.checkpoint)
            st.switch_page(target.file)


def draw_live() -> None:
    state = job.state()
    if state.active != st.session_state["train_seen_active"]:
        # A run started in another tab, or this one ended: redraw the whole page (form, sidebar, pickers).
        st.session_state["train_seen_active"] = state.active
        st.rerun()
    if state.status == "idle":
        st.info("Set up a run above and press **Start training**.", icon=":material/info:")
        return
    draw_progress(state)
    draw_controls(state)
    draw_result(state)
    curves, samples = st.columns([3, 2])
    with curves:
        st.markdown("**Losses**")
        figure = charts.loss_figure(state.losses)
        if figure is None:
            st.caption("The curves start with the first step.")
        else:
            st.plotly_chart(figure)
        if state.epoch_history:
            st.dataframe(
                [{key: (round(value, 4) if isinstance(value, float) else value) for key, value in row.items()}
                 for row in state.epoch_history],
                hide_index=True, height=min(36 * (len(state.epoch_history) + 1) + 2, 240),
            )
            figure = charts.epoch_metrics_figure(state.epoch_history)
            if figure is not None:
                st.markdown("**Sample quality by epoch**")
                st.caption(
                    "FID (lower is better) and Inception Score (ceiling 10) of 1,000 samples, judged by the "
                    "project's digit classifier after each epoch — the cheap version of `multigen eval`."
                )
                st.plotly_chart(figure)
    with samples:
        draw_grids(state)
    draw_latent(state)


active = job.state().active
st.session_state["train_seen_active"] = active
st.fragment(draw_live, run_every=LIVE_EVERY if active else IDLE_EVERY)()
