"""History of refined images (SimGAN section 3.3).

Showing D only the refiner's latest output lets the two networks chase each other; mixing in
older refined images keeps D remembering artefacts R produced before. The buffer, its fill
count and its random-stream counter are TF variables on a `tf.Module`, so
`tf.train.Checkpoint` saves and restores them and a resumed run draws the same samples as an
uninterrupted one.

Across replicas (tf.distribute) there is one buffer, kept identical on every replica: the
variables are mirrored (written by the first replica, copied to the others), the random
draws are stateless functions of (seed, counter), and the b/2 current images of the
*global* batch are gathered with an all-reduce before they are stored. So N replicas with a
global batch b follow exactly the rule one device follows with batch b, and a checkpoint
holds the whole buffer.
"""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf


class ImageHistoryBuffer(tf.Module):
    """Fixed-size buffer of refined images with the paper's sampling and replacement rule.

    State: `images` (capacity, H, W, C), `size` (slots filled: always `images[:size]`),
    `seed` and `counter` (updates made so far; with the seed it fixes the next random draw).
    `dtype` is how images are stored: float32, or uint8 (8-bit levels of [-1, 1], as the
    stored real images have; 4x smaller in memory and in every checkpoint), or uint16
    (16-bit levels, for depth runs whose images are uint16: 8-bit levels would quantise
    them). What the buffer returns is always float32 in [-1, 1].
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
        if self.dtype not in (tf.float32, tf.bfloat16, tf.float16, tf.uint8, tf.uint16):
            raise ValueError(
                f"ImageHistoryBuffer: dtype must be float32, bfloat16, float16, uint8 or uint16, got {self.dtype.name}"
            )
        with self.name_scope:
            mirrored = dict(
                trainable=False,
                synchronization=tf.VariableSynchronization.ON_WRITE,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            # uint8 levels live in a float16 variable under MultiWorkerMirroredStrategy, whose
            # collectives do not carry uint8 (0..255 are exact in float16); uint16 levels in
            # float32 (0..65535 are exact there, not in float16).
            self._half_range = {tf.uint8: 127.5, tf.uint16: 32767.5}.get(self.dtype)
            self._levels = self._half_range is not None
            collective = isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)
            wide = tf.float16 if self.dtype == tf.uint8 else tf.float32
            self._storage = wide if self._levels and collective else self.dtype
            self.images = tf.Variable(tf.zeros((self.capacity, *image_shape), self._storage), name="images", **mirrored)
            self.size = tf.Variable(0, dtype=tf.int32, name="size", **mirrored)
            self.counter = tf.Variable(0, dtype=tf.int64, name="counter", **mirrored)
            self.seed = tf.Variable(int(seed), dtype=tf.int64, name="seed", **mirrored)  # restored too

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

    def _encode(self, images: tf.Tensor) -> tf.Tensor:
        """float images in [-1, 1] -> the storage dtype."""
        images = tf.cast(images, tf.float32)
        if self._levels:
            top = 2.0 * self._half_range
            return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * self._half_range, 0.0, top)), self._storage)
        return tf.cast(images, self._storage)

    def _decode(self, stored: tf.Tensor) -> tf.Tensor:
        if self._levels:
            return tf.cast(stored, tf.float32) / self._half_range - 1.0
        return tf.cast(stored, tf.float32)

    def _next_seed(self, stream: int) -> tf.Tensor:
        """A stateless seed: the same on every replica, different for every draw and stream."""
        return tf.stack([self.seed.read_value(), self.counter.read_value() * 2 + stream])

    def _distinct_indices(self, n: int, upper: tf.Tensor, stream: int) -> tf.Tensor:
        """n distinct slot indices uniform in [0, upper), ordered by a random key.

        Random keys for every slot, slots >= upper masked to -1, top-n keys: a uniform draw
        without replacement that works in graph mode with a dynamic `upper`. If upper < n
        the trailing entries are out-of-range slots; callers only use the first `upper`.
        """
        keys = tf.random.stateless_uniform([self.capacity], seed=self._next_seed(stream), dtype=tf.float32)
        keys = tf.where(tf.range(self.capacity) < upper, keys, -1.0)
        return tf.math.top_k(keys, k=n, sorted=True).indices

    def _advance(self) -> None:
        self.counter.assign_add(1)

    def _sample_unchecked(self, n: int) -> tf.Tensor:
        return self._decode(tf.gather(self.images, self._distinct_indices(n, self.size.read_value(), stream=0)))

    def sample(self, n: int) -> tf.Tensor:
        """n distinct images drawn uniformly from the filled part of the buffer."""
        n = int(n)
        if not 1 <= n <= self.capacity:
            raise ValueError(
                f"ImageHistoryBuffer.sample: n must be in [1, capacity={self.capacity}], got {n}"
            )
        with tf.control_dependencies([
            tf.debugging.assert_greater_equal(
                self.size.read_value(), n, message=f"ImageHistoryBuffer.sample: fewer than {n} images in the buffer"
            )
        ]):
            out = self._sample_unchecked(n)
        self._advance()
        return out

    def _store(self, images: tf.Tensor) -> None:
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
        random_slots = self._distinct_indices(n, size, stream=1)
        slots = tf.where(
            slot < n_free, size + slot, tf.gather(random_slots, tf.maximum(slot - n_free, 0))
        )
        if isinstance(self.images, tf.distribute.DistributedValues):
            # Mirrored variables support assign but no scatter ops in a replica context.
            self.images.assign(tf.tensor_scatter_nd_update(self.images, slots[:, tf.newaxis], images))
        else:
            self.images.scatter_nd_update(slots[:, tf.newaxis], images)
        self.size.assign(tf.minimum(size + n, self.capacity))

    def add(self, images: tf.Tensor) -> None:
        """Append images while there is room; once full, overwrite distinct random slots."""
        self._store(self._encode(tf.convert_to_tensor(images)))
        self._advance()

    def _check_half(self, batch: int, what: str) -> int:
        if batch % 2:
            raise ValueError(f"ImageHistoryBuffer.{what}: the batch size must be even, got {batch}")
        half = batch // 2
        if self.capacity < half:
            raise ValueError(
                f"ImageHistoryBuffer.{what}: capacity {self.capacity} is smaller than half the "
                f"batch ({half}); use a buffer of at least batch/2 images"
            )
        return half

    # -- the paper's rule ----------------------------------------------------------------
    def mix(self, refined: tf.Tensor) -> tf.Tensor:
        """The batch D should see for this step's b refined images, then update the buffer.

        If the buffer holds >= b/2 images: the first b/2 current images followed by b/2
        distinct images drawn uniformly from the buffer; otherwise the b current images.
        Then the first b/2 current images are written into the buffer (appended while it
        fills, afterwards into b/2 distinct random slots). Works eagerly and in tf.function
        on one device; under tf.distribute use `discriminator_batch`. Returns float32.
        """
        refined = tf.cast(tf.convert_to_tensor(refined), tf.float32)
        half = self._check_half(self._check_batch(refined, "mix"), "mix")
        current = refined[:half]
        history = self._sample_unchecked(half)  # drawn before the buffer changes
        mixed = tf.where(self.size.read_value() >= half, tf.concat([current, history], axis=0), refined)
        self._store(self._encode(current))
        self._advance()
        return mixed

    def discriminator_batch(
        self, synthetic: tf.Tensor, refine: Callable[[tf.Tensor], tf.Tensor], static_shapes: bool = False
    ) -> tf.Tensor:
        """`mix(refine(x))` for the global batch x, refining only the images D will see.

        `synthetic` is this replica's part of the global batch (all of it on one device).
        Once the buffer holds b/2 images, D sees the global batch's first b/2 images
        refined and b/2 history images, so only those first b/2 are refined: on one device
        half the batch, under N replicas the replicas holding them. Returns this replica's
        part of D's batch (float32) and stores the global first half in the buffer.
        `static_shapes=True` (for XLA) refines the whole local batch instead: same result.
        """
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        local = self._check_batch(synthetic, "discriminator_batch")
        half = self._check_half(local * replicas, "discriminator_batch")
        replica_id = context.replica_id_in_sync_group if context is not None else 0
        first = tf.cast(replica_id, tf.int32) * local
        position = first + tf.range(local)  # of each local image in the global batch
        is_current = position < half
        full = self.size.read_value() >= half
        n_refine = tf.where(full, tf.clip_by_value(half - first, 0, local), local)

        def refined_part() -> tf.Tensor:
            return tf.cast(refine(synthetic[:n_refine]), tf.float32)

        if static_shapes:
            refined = tf.cast(refine(synthetic), tf.float32)
        else:
            refined = tf.cond(n_refine > 0, refined_part, lambda: tf.zeros((0, *self.image_shape), tf.float32))
            refined = tf.concat([refined, tf.zeros((local - n_refine, *self.image_shape), tf.float32)], axis=0)
            refined = tf.ensure_shape(refined, (local, *self.image_shape))
        history = tf.gather(self._sample_unchecked(half), tf.clip_by_value(position - half, 0, half - 1))
        batch = tf.where((full & ~is_current)[:, None, None, None], history, refined)
        # The global current half, the same on every replica: each replica puts its part in
        # place, zeros elsewhere, and an all-reduce sums them.
        mine = tf.boolean_mask(tf.range(local), is_current)
        current = tf.scatter_nd(tf.gather(position, mine)[:, None], tf.gather(refined, mine), (half, *self.image_shape))
        if replicas > 1:
            current = context.all_reduce(tf.distribute.ReduceOp.SUM, current)
        self._store(self._encode(current))
        self._advance()
        return batch
