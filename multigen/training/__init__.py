"""Training: one typed config, one loop for every model as an iterator of events, and the app's background job.

``config`` (``TrainingConfig``, saved in every checkpoint) -> ``trainer`` (``Trainer``, ``train``) ->
``events`` (what the loop reports) -> ``job`` (``TrainingJob``, the run the app's sessions share).
"""

from multigen.training.config import RUNS_DIR, TrainingConfig, default_checkpoint_path, resume_config, run_path
from multigen.training.events import EpochEnd, Event, Finished, LatentSnapshot, Progress, Samples, Started
from multigen.training.job import JobBusy, JobState, TrainingJob
from multigen.training.trainer import GRID_SIZE, Trainer, TrainingDiverged, classifier_training_config, train

__all__ = [
    "GRID_SIZE", "RUNS_DIR", "EpochEnd", "Event", "Finished", "JobBusy", "JobState", "LatentSnapshot", "Progress",
    "Samples", "Started", "Trainer", "TrainingConfig", "TrainingDiverged", "TrainingJob", "classifier_training_config",
    "default_checkpoint_path", "resume_config", "run_path", "train",
]
