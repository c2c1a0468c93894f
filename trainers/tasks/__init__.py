"""The task families of fine-tuning: the only code that knows them apart.

    TASKS["classification"]  text (pair) -> label          `BertClassifier`
    TASKS["regression"]      text (pair) -> number         `BertRegressor`
    TASKS["tagging"]         words -> a tag per word       `BertTokenClassifier`
    TASKS["squad"]           question + context -> span    `BertQuestionAnswerer`
    TASKS["multiple_choice"] context + choices -> choice   `BertMultipleChoice`

Each is a `task.Task` (reading, features, model, scores, predictions,
serving inputs). A new family: one module here, one entry below.
"""

from keras_bert.trainers.tasks.classification import Classification
from keras_bert.trainers.tasks.multiple_choice import MultipleChoice
from keras_bert.trainers.tasks.regression import Regression
from keras_bert.trainers.tasks.squad import Squad
from keras_bert.trainers.tasks.tagging import Tagging

TASKS = {task.name: task for task in (Classification(), Regression(), Tagging(), Squad(), MultipleChoice())}


def get(name, where="--task"):
    """The family called `name`; a ValueError naming `where` (a flag, a file) otherwise."""
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"{where}={name!r}: must be one of {', '.join(TASKS)}")
    return TASKS[name]


def of_model(model):
    """The family whose model class `model` is an instance of.

    Raises:
      ValueError: for any other model.
    """
    for task in TASKS.values():
        if isinstance(model, task.model_class):
            return task
    supported = ", ".join(task.model_class.__name__ for task in TASKS.values())
    raise ValueError(f"model must be one of {supported} to be exported for serving, got {type(model).__name__}")
