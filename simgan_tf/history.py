"""History of refined images (SimGAN section 3.3).

Showing D only the refiner's latest output lets the two networks chase each other; mixing in
older refined images keeps D remembering artefacts R produced before. The buffer, its fill
count and its random generator are TF state on a `tf.Module`, so `tf.train.Checkpoint`
saves and restores them and a resumed run draws the same samples as an uninterrupted one.
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf


class ImageHistoryBuffer(tf.Module):
    """Fixed-size buffer of refined images with the paper's sampling and replacement rule.

    State: `images` (capacity, H, W, C) variable, `size` (int32 variable: slots filled, the
    filled part is always `images[:size]`) and a seeded stateful `tf.random.Generator`.

    Under tf.distribute (buffer created inside `strategy.scope()`), `mix` called in
    `strategy.run` keeps one buffer of `capacity` images per replica, fed by and sampled
    for that replica's own batch, with a different random stream per replica; called in
    cross-replica context it applies the rule to the batch it is given and all replicas
    hold the same buffer. A checkpoint stores the first replica's buffer and restores it
    into every replica.
    """

    def __init__(
        self,
        capacity: int,
        image_shape: Sequence[int],
        seed: int = 0,
        dtype: tf.DType = tf.float32,
        name: str = "image_history_buffer",
    ):
        super().__init__(name=name)
        image_shape = tuple(int(d) for d in image_shape)
        if int(capacity) < 1:
            raise ValueError(f"ImageHistoryBuffer: capacity must be >= 1, got {capacity}")
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(
                f"ImageHistoryBuffer: image_shape must be (height, width, channels) > 0, "
                f"got {image_shape}"
            )
        self.capacity = int(capacity)
        self.image_shape = image_shape
        self.dtype = tf.as_dtype(dtype)
        with self.name_scope:
            # ON_READ: under tf.distribute every replica keeps (and writes) its own buffer;
            # a checkpoint stores the first replica's. Without a strategy: a plain variable.
            local = dict(
                trainable=False,
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            self.images = tf.Variable(
                tf.zeros((self.capacity, *image_shape), self.dtype), name="images", **local
            )
            self.size = tf.Variable(0, dtype=tf.int32, name="size", **local)
            self.rng = tf.random.Generator.from_seed(seed)

    # -- building blocks -----------------------------------------------------------------
    def _check_batch(self, images: tf.Tensor, what: str) -> int:
        images_shape = tuple(images.shape) if images.shape.rank is not None else ()
        if len(images_shape) != 4 or images_shape[1:] != self.image_shape:
            raise ValueError(
                f"ImageHistoryBuffer.{what}: expected images of shape (batch, "
                f"{', '.join(map(str, self.image_shape))}), got {images.shape}"
            )
        if images_shape[0] is None:
            raise ValueError(
                f"ImageHistoryBuffer.{what}: the batch size must be static (known when the "
                "tf.function is traced), e.g. batch the dataset with drop_remainder=True"
            )
        return int(images_shape[0])

    def _distinct_indices(self, n: int, upper: tf.Tensor) -> tf.Tensor:
        """n distinct slot indices uniform in [0, upper), ordered by a random key.

        Random keys for every slot, slots >= upper masked to -1, top-n keys: a uniform draw
        without replacement that works in graph mode with a dynamic `upper`. If upper < n
        the trailing entries are out-of-range slots; callers only use the first `upper`.
        """
        keys = self.rng.uniform([self.capacity], dtype=tf.float32)
        keys = tf.where(tf.range(self.capacity) < upper, keys, -1.0)
        return tf.math.top_k(keys, k=n, sorted=True).indices

    def sample(self, n: int) -> tf.Tensor:
        """n distinct images drawn uniformly from the filled part of the buffer."""
        n = int(n)
        if not 1 <= n <= self.capacity:
            raise ValueError(
                f"ImageHistoryBuffer.sample: n must be in [1, capacity={self.capacity}], got {n}"
            )
        size = self.size.read_value()
        with tf.control_dependencies([
            tf.debugging.assert_greater_equal(
                size, n, message=f"ImageHistoryBuffer.sample: fewer than {n} images in the buffer"
            )
        ]):
            indices = self._distinct_indices(n, size)
        return tf.gather(self.images, indices)

    def add(self, images: tf.Tensor) -> None:
        """Append images while there is room; once full, overwrite distinct random slots."""
        images = tf.cast(tf.convert_to_tensor(images), self.dtype)
        n = self._check_batch(images, "add")
        if n > self.capacity:
            raise ValueError(
                f"ImageHistoryBuffer.add: {n} images do not fit a buffer of capacity "
                f"{self.capacity}"
            )
        size = self.size.read_value()
        n_free = tf.minimum(n, self.capacity - size)
        slot = tf.range(n)
        # Random slots come from the part filled before this call, so they never collide
        # with the free slots [size, size + n_free) written here.
        random_slots = self._distinct_indices(n, size)
        slots = tf.where(
            slot < n_free, size + slot, tf.gather(random_slots, tf.maximum(slot - n_free, 0))
        )
        if isinstance(self.images, tf.distribute.DistributedValues):
            # Per-replica (ON_READ) variables support assign but no scatter ops.
            self.images.assign(
                tf.tensor_scatter_nd_update(self.images, slots[:, tf.newaxis], images)
            )
        else:
            self.images.scatter_nd_update(slots[:, tf.newaxis], images)
        self.size.assign(tf.minimum(size + n, self.capacity))

    # -- the paper's rule ----------------------------------------------------------------
    def mix(self, refined: tf.Tensor) -> tf.Tensor:
        """The batch D should see for this step's b refined images, then update the buffer.

        If the buffer holds >= b/2 images: the first b/2 current images followed by b/2
        distinct images drawn uniformly from the buffer; otherwise the b current images.
        Then the first b/2 current images are written into the buffer (appended while it
        fills, afterwards into b/2 distinct random slots). Works eagerly and in tf.function;
        the result has the buffer's dtype.
        """
        refined = tf.cast(tf.convert_to_tensor(refined), self.dtype)
        batch = self._check_batch(refined, "mix")
        if batch % 2:
            raise ValueError(f"ImageHistoryBuffer.mix: the batch size must be even, got {batch}")
        half = batch // 2
        if self.capacity < half:
            raise ValueError(
                f"ImageHistoryBuffer.mix: capacity {self.capacity} is smaller than half the "
                f"batch ({half}); use a buffer of at least batch/2 images"
            )
        current = refined[:half]
        mixed = tf.cond(
            self.size >= half,
            lambda: tf.concat([current, self.sample(half)], axis=0),
            lambda: refined,
        )
        self.add(current)
        return mixed
