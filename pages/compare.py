"""Compare: every generative checkpoint side by side.

A sample grid of each, one table of their metrics (FID, Inception Score, conditional accuracy,
perceptual diversity and memorisation, negative ELBO; ``multigen.evaluation.evaluate``), and the curves
each run logged over its epochs. The table draws at once from what is known (``multigen.cache``: evaluations
kept on disk per checkpoint's weights and sample count, else the figures a training run recorded); what is
missing is measured in the background, one checkpoint at a time, while a progress bar says how far it got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from multigen.checkpoints import CheckpointInfo
from multigen.errors import MultigenError
from multigen.models import display_name
from pages.ui import loaders
from pages.ui.charts import CURVES, curve_figure
from pages.ui.checkpoints import available_checkpoints, checkpoint_label, is_run, name_of
from pages.ui.folders import checkpoint_dirs, display_path
from pages.ui.pictures import show_picture
from pages.ui.shell import run_inside_app
from pages.ui.site import page
from pages.ui.text import plain
from pages.ui.when_drawn import drawn

run_inside_app()  # a page opened on its own goes through app.py (see pages/ui/shell.py)

SAMPLE_COUNTS = loaders.EVALUATION_SAMPLES  # the first is measured for the shipped checkpoints at server start
GRID_COLUMNS = 4  # sample grids per row of the page
COMPARE = page("compare")
PRIORS = {"fitted": "the fitted prior (where a VAE has one)", "standard": "N(0, I), the prior it was trained with"}


def metrics_row(info: CheckpointInfo, figures: dict[str, Any] | None) -> dict[str, Any]:
    """One row of the metrics table: the checkpoint, then ``evaluate``'s figures (None where it has none)."""
    figures = figures or {}
    return {
        "checkpoint": name_of(info),
        "kind": display_name(info.kind),
        "epoch": info.metadata.get("epoch"),
        "FID": figures.get("fid"),
        "FID floor": figures.get("fid_floor"),
        "IS": figures.get("inception_score"),
        "real IS": figures.get("inception_score_real"),
        "conditional accuracy": figures.get("conditional_accuracy"),
        "diversity": figures.get("diversity"),
        "real diversity": figures.get("diversity_real"),
        "memorisation": figures.get("memorisation"),
        "real memorisation": figures.get("memorisation_real"),
        "−ELBO": figures.get("negative_elbo"),
        "reconstruction": figures.get("reconstruction"),
        "KL": figures.get("kl"),
        "perceptual reconstruction": figures.get("reconstruction_perceptual"),
    }


# -- inputs -----------------------------------------------------------------------------------------
st.title("Compare")
st.caption(
    "Every generative checkpoint side by side: a sample grid of each, their metrics measured with the "
    "project's digit classifier, and the curves each run logged while it trained."
)

infos = available_checkpoints(COMPARE.kinds)
if not infos:
    st.info(
        f"There is no {COMPARE.models} checkpoint yet. Train one on the **Train** page, or put shipped "
        f"checkpoints in `{display_path(checkpoint_dirs()[0])}`."
    )
    st.stop()
by_path = {str(info.path): info for info in infos}
if "compare_checkpoints" not in st.session_state:  # first visit: every shipped checkpoint
    st.session_state["compare_checkpoints"] = [path for path, info in by_path.items() if not is_run(info)]
else:  # drop files that went away
    st.session_state["compare_checkpoints"] = [p for p in st.session_state["compare_checkpoints"] if p in by_path]

pick_column, samples_column = st.columns([4, 1], vertical_alignment="bottom")
chosen = pick_column.multiselect(
    "Checkpoints", list(by_path), key="compare_checkpoints",
    format_func=lambda path: checkpoint_label(by_path[path]),
    help="The shipped models, then every run trained on the Train page (newest first).",
)
samples = samples_column.selectbox(
    "Samples", SAMPLE_COUNTS, key="compare_samples", format_func=lambda n: f"{n:,} samples",
    help="Digits generated per checkpoint for FID and IS: more is steadier but slower.",
)
selected = [by_path[path] for path in chosen]
if not selected:
    st.info("Pick one or more checkpoints to compare.")
    st.stop()
with_prior = [name_of(info) for info in selected if info.metadata.get("prior")]
prior = loaders.DEFAULT_PRIOR
if with_prior:
    prior = st.radio(
        "VAE samples from", list(PRIORS), index=list(PRIORS).index(prior), key="compare_prior", format_func=PRIORS.get,
        horizontal=True,
        help=f"{', '.join(with_prior)} also keep(s) a Gaussian mixture fitted to where the encoder puts the training "
        "digits (`multigen fit-prior`; Ghosh et al., 2020). N(0, I), the prior the VAE was trained with, has holes "
        "where no digit's code lies, and decodes them as blurred blends.",
    )

# -- metrics ----------------------------------------------------------------------------------------
st.subheader("Metrics")
COLUMNS = {
    "FID": st.column_config.NumberColumn(format="%.2f", help="Lower is better."),
    "FID floor": st.column_config.NumberColumn(format="%.2f", help="Real digits' FID: the best reachable."),
    "IS": st.column_config.NumberColumn(format="%.2f", help="Higher is better; at most 10."),
    "real IS": st.column_config.NumberColumn(format="%.2f", help="Real digits' IS: the practical ceiling."),
    "conditional accuracy": st.column_config.NumberColumn(format="percent"),
    "diversity": st.column_config.NumberColumn(
        format="%.3f", help="Mean perceptual distance between two samples (per digit for conditional models)."),
    "real diversity": st.column_config.NumberColumn(
        format="%.3f", help="The same for real validation digits: far below it means mode collapse."),
    "memorisation": st.column_config.NumberColumn(
        format="percent", help="Share of samples closer to a training digit than 95% of real digits are."),
    "real memorisation": st.column_config.NumberColumn(format="percent", help="The same for real validation digits, judged by thresholds fitted on other validation digits: about 5%."),
    "−ELBO": st.column_config.NumberColumn(format="%.1f", help="Validation negative ELBO, nats per image."),
    "reconstruction": st.column_config.NumberColumn(format="%.1f"),
    "KL": st.column_config.NumberColumn(format="%.1f"),
    "perceptual reconstruction": st.column_config.NumberColumn(
        format="%.3f", help="Mean perceptual distance between validation digits and their reconstructions."),
}


def measured() -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The table's rows from what is known now (the disk cache of evaluations, else what a training run recorded),
    the problems of evaluations that failed, and the checkpoints still being measured in the background."""
    rows, problems, pending = [], [], []
    for info in selected:
        figures, complete = loaders.known_figures(info, samples, loaders.prior_for(info, prior))
        if not complete:  # measured in the background, one checkpoint at a time, kept on disk for the next server
            job = loaders.measure_in_background(info, samples, loaders.prior_for(info, prior))
            if job.state == "done":
                figures = job.result
            elif job.state == "failed":
                problems.append(f"{name_of(info)}: {job.error}")
            else:
                pending.append(name_of(info))
        rows.append(metrics_row(info, figures))
    return rows, problems, pending


_, _, waiting = measured()


@st.fragment(run_every=1.0 if waiting else None)
def metrics_table() -> None:
    """The table, redrawn every second while figures are being measured; the page reruns once they all are."""
    rows, problems, pending = measured()
    if waiting and not pending:
        st.rerun()  # all measured: the whole page once more, without this fragment's timer
    for problem in problems:
        st.warning(plain(problem))
    if pending:
        done = len(rows) - len(pending)
        st.progress(done / len(rows), text=f"Measuring {pending[0]} ({done} of {len(rows)} checkpoints done): the "
                    "figures appear here as each is measured, once per checkpoint; later visits read them from the cache.")
    shown = [column for column in rows[0] if any(row[column] is not None for row in rows)]
    st.dataframe([{column: row[column] for column in shown} for row in rows], hide_index=True, width="stretch",
                 column_config=COLUMNS)


metrics_table()
st.caption(
    f"{samples:,} seeded samples per checkpoint, judged by the project's digit classifier (not Inception), so the "
    "figures compare multigen models with each other, not with papers. Even real digits do not score an FID of 0: "
    "**FID floor** is the FID of as many real training digits, the best a model can reach. **real IS** is the "
    "Inception Score of real digits, the practical ceiling (the absolute one is 10). Conditional accuracy is the "
    "share of digits drawn for d that the classifier reads as d. **Diversity** is the mean perceptual distance "
    "(LPIPS-style, on the same classifier) between two samples, per digit for conditional models, beside the same "
    "figure for real digits; far below it means the model draws too few kinds of digit. **Memorisation** is the share "
    "of samples closer to a training digit than 95% of real validation digits are (real digits, judged by thresholds fitted on other real digits: about 5%); "
    "far above it means copying. Both on the first 1,000 samples. −ELBO = reconstruction + KL on the validation "
    "split, and the perceptual distance of its reconstructions (VAEs only). Click a column header to sort."
)

# -- sample grids -----------------------------------------------------------------------------------
st.subheader("Samples")
st.caption(f"{loaders.GRID_DIGITS} digits from seed {loaders.GRID_SEED} each; conditional models draw the digits 0–9 in turn"
           + (f"; {', '.join(with_prior)} from {PRIORS[prior]}." if with_prior else "."))
for start in range(0, len(selected), GRID_COLUMNS):
    columns = st.columns(GRID_COLUMNS)
    for column, info in zip(columns, selected[start : start + GRID_COLUMNS]):
        try:
            grid = loaders.sample_grid(info, loaders.prior_for(info, prior))
        except (MultigenError, OSError) as error:
            column.warning(f"{name_of(info)}: {error}")
            continue
        show_picture(grid, factor=2, caption=f"{name_of(info)} · {Path(info.path).name}", container=column)

# -- curves over epochs -----------------------------------------------------------------------------
st.subheader("Over epochs")
figures = {metric: curve_figure(metric, [(name_of(info), info.metadata) for info in selected]) for metric in CURVES}
figures = {metric: figure for metric, figure in figures.items() if figure is not None}
if not figures:
    st.caption("None of these checkpoints logged per-epoch history.")
elif not drawn("[data-testid=stDataFrame]", key="compare_table_drawn"):  # Plotly's script would delay the table
    st.caption("The curves follow once the table is on screen.")
else:
    for metric, figure in figures.items():
        st.plotly_chart(figure, key=f"compare_curve_{metric}")
    if list(figures) == ["loss"]:
        st.caption("None of these runs logged FID or Inception Score per epoch; only their training losses are shown.")
