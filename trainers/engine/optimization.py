"""Optimizers and learning-rate schedules for pretraining and fine-tuning.

As google-research/bert's `optimization.py`: linear warmup to the peak
learning rate, then polynomial decay (power 1 = linear) to
`end_learning_rate` at `num_train_steps`; decoupled weight decay 0.01 that
skips LayerNorm parameters and biases. Two optimizers: AdamW (Keras's, with
epsilon 1e-6, its dense steps on TF's fused Adam kernel) and LAMB (You et al. 2019, below). Gradient clipping is not
configured here: the trainer clips the all-reduced global gradient.

One known difference: the original's AdamWeightDecayOptimizer has no Adam
bias correction; Keras's AdamW (and Model Garden's, and HF's AdamW) has it.
It matters only in the first few hundred steps, which warmup covers.
"""

import re

import keras
import tensorflow as tf
from keras import ops

OPTIMIZERS = ("adamw", "lamb")


def decays(variable):
    """Whether weight decay (and LAMB's layer adaptation) applies to `variable`.

    No decay for biases and LayerNorm gamma/beta, as the original's
    `exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"]`.
    """
    # Keras variables have a `path`; inside update_step the TF backend passes
    # the underlying tf.Variable, named like "layer/bias:0".
    path = getattr(variable, "path", variable.name).split(":")[0]
    return not ("layer_norm" in path or path.endswith("bias"))


@keras.saving.register_keras_serializable(package="keras_bert")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup, then polynomial decay, as the original BERT schedule.

    For `step < num_warmup_steps`: `learning_rate * step / num_warmup_steps`.
    Otherwise: `(learning_rate - end) * (1 - step / num_train_steps) ** power
    + end`, with `step` capped at `num_train_steps`. (As the original, the
    decay runs over all `num_train_steps`, warmup included.)

    Args:
      learning_rate: float, the peak learning rate.
      num_train_steps: int > 0, steps until the rate reaches `end_learning_rate`.
      num_warmup_steps: int >= 0.
      end_learning_rate: float.
      power: float, 1.0 = linear decay.
    """

    def __init__(self, learning_rate, num_train_steps, num_warmup_steps=0, end_learning_rate=0.0, power=1.0):
        if num_train_steps <= 0:
            raise ValueError(f"num_train_steps must be > 0, got {num_train_steps}")
        if not 0 <= num_warmup_steps <= num_train_steps:
            raise ValueError(
                f"num_warmup_steps must be in [0, num_train_steps={num_train_steps}], "
                f"got {num_warmup_steps}"
            )
        self.learning_rate = float(learning_rate)
        self.num_train_steps = int(num_train_steps)
        self.num_warmup_steps = int(num_warmup_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        done = ops.minimum(step, float(self.num_train_steps)) / float(self.num_train_steps)
        decayed = (self.learning_rate - self.end_learning_rate) * ops.power(1.0 - done, self.power)
        decayed = decayed + self.end_learning_rate
        if self.num_warmup_steps == 0:
            return decayed
        warmup = self.learning_rate * step / float(self.num_warmup_steps)
        return ops.where(step < float(self.num_warmup_steps), warmup, decayed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "num_train_steps": self.num_train_steps,
            "num_warmup_steps": self.num_warmup_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
        }


@keras.saving.register_keras_serializable(package="keras_bert")
class Lamb(keras.optimizers.Optimizer):
    """LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning").

    Per variable: Adam moments with bias correction; `update = m_hat /
    (sqrt(v_hat) + epsilon) + weight_decay * w` (decay only where
    `decays(w)`); then the layer-wise trust ratio `||w|| / ||update||` (1 when
    either norm is 0, or for variables without decay, as the reference
    implementation excludes LayerNorm and biases from adaptation too);
    `w -= learning_rate * ratio * update`.

    Unlike `keras.optimizers.Lamb`, weight decay is part of the update that
    the trust ratio scales, as in the paper.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        weight_decay_rate=0.01,
        name="lamb",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.weight_decay_rate = weight_decay_rate

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        m_hat = m / (1.0 - ops.power(ops.cast(self.beta_1, dtype), step))
        v_hat = v / (1.0 - ops.power(ops.cast(self.beta_2, dtype), step))
        update = m_hat / (ops.sqrt(v_hat) + self.epsilon)
        if decays(variable):
            update = update + self.weight_decay_rate * variable
            w_norm = ops.sqrt(ops.sum(ops.square(variable)))
            u_norm = ops.sqrt(ops.sum(ops.square(update)))
            ratio = ops.where(
                (w_norm > 0) & (u_norm > 0), w_norm / ops.maximum(u_norm, 1e-30), ops.ones_like(w_norm)
            )
            update = ratio * update
        self.assign_sub(variable, lr * update)

    def get_config(self):
        config = super().get_config()
        config.update(
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            weight_decay_rate=self.weight_decay_rate,
        )
        return config


def layerwise_lr_multiplier(path, num_layers, decay):
    """Learning-rate factor of a variable under layer-wise decay (Clark et al.
    2020, ELECTRA; Sun et al. 2019): 1 for the task head and the pooler,
    `decay ** (num_layers - i)` for transformer layer i, `decay **
    (num_layers + 1)` for the embeddings."""
    if decay == 1.0:
        return 1.0
    match = re.search(r"transformer_layer_(\d+)/", path)
    if match:
        return decay ** (num_layers - int(match.group(1)))
    if re.search(r"(^|/)embeddings/", path):
        return decay ** (num_layers + 1)
    return 1.0


@keras.saving.register_keras_serializable(package="keras_bert")
class AdamW(keras.optimizers.AdamW):
    """Keras's AdamW, with the Adam step of each dense gradient run as TF's
    fused `ResourceApplyAdam` kernel: one pass over the variable and its two
    moments instead of about ten element-wise ops. The update is Keras's
    (bias-corrected step size, epsilon added to sqrt(v), decoupled weight
    decay applied by the base class before the step). Sparse gradients
    (`tf.IndexedSlices`) and other backends take Keras's own path."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices) or keras.backend.backend() != "tensorflow":
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


@keras.saving.register_keras_serializable(package="keras_bert")
class LayerwiseDecayAdamW(AdamW):
    """AdamW whose step for each variable is scaled by
    `layerwise_lr_multiplier(its path)` (the learning rate of lower layers
    decays geometrically). Weight decay uses the undecayed rate, as
    Keras's AdamW applies it before the per-variable update."""

    def __init__(self, num_layers, layerwise_lr_decay, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.layerwise_lr_decay = layerwise_lr_decay
        self._multipliers = {}

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        for variable in var_list:
            self._multipliers[self._var_key(variable)] = layerwise_lr_multiplier(
                variable.path, self.num_layers, self.layerwise_lr_decay
            )

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self._multipliers.get(self._var_key(variable), 1.0)
        super().update_step(gradient, variable, learning_rate * multiplier)

    def get_config(self):
        config = super().get_config()
        config.update(num_layers=self.num_layers, layerwise_lr_decay=self.layerwise_lr_decay)
        return config


def create_optimizer(
    name,
    learning_rate,
    num_train_steps,
    num_warmup_steps=0,
    weight_decay_rate=0.01,
    end_learning_rate=0.0,
    power=1.0,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-6,
    layerwise_lr_decay=1.0,
    num_layers=None,
):
    """The BERT optimizer `name` ("adamw" or "lamb") with the warmup/decay schedule.

    `layerwise_lr_decay` < 1 (AdamW only) scales each layer's learning rate
    (see `layerwise_lr_multiplier`); it needs `num_layers`.

    Returns:
      a `keras.optimizers.Optimizer` (unscaled; the trainer wraps it in a
      loss-scale optimizer under mixed_float16).
    """
    schedule = WarmupPolynomialDecay(
        learning_rate, num_train_steps, num_warmup_steps, end_learning_rate, power
    )
    if not 0.0 < layerwise_lr_decay <= 1.0:
        raise ValueError(f"layerwise_lr_decay must be in (0, 1], got {layerwise_lr_decay}")
    if name == "adamw":
        kwargs = dict(learning_rate=schedule, weight_decay=weight_decay_rate, beta_1=beta_1, beta_2=beta_2,
                      epsilon=epsilon)
        if layerwise_lr_decay < 1.0:
            if not num_layers:
                raise ValueError("layerwise_lr_decay needs num_layers")
            optimizer = LayerwiseDecayAdamW(num_layers, layerwise_lr_decay, **kwargs)
        else:
            optimizer = AdamW(**kwargs)
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
        return optimizer
    if name == "lamb":
        if layerwise_lr_decay < 1.0:
            raise ValueError("layerwise_lr_decay is implemented for adamw, not lamb")
        return Lamb(
            learning_rate=schedule,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            weight_decay_rate=weight_decay_rate,
        )
    raise ValueError(f"optimizer={name!r}: must be one of {', '.join(OPTIMIZERS)}")
