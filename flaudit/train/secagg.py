"""Pairwise-masked secure aggregation (Bonawitz et al., CCS 2017; the protocol behind Flower's SecAgg+).

Each pair of silos agrees a key with X25519 (public keys relayed by the orchestrator); HKDF-SHA256 of the shared
secret keys a ChaCha20 stream that expands into one 64-bit mask per model parameter and round. A silo sends
``quantize(w * update) + sum_{peer > me} mask - sum_{peer < me} mask (mod 2**64)``, with its weight ``w`` as
the vector's last element, so the masks cancel in the sum and the orchestrator learns ``sum w * update`` and
``sum w`` (hence the weighted FedAvg) and nothing about a single silo: each masked vector on its own is
uniformly distributed over the 64-bit integers.

Fixed point: ``FRACTION_BITS`` fractional bits in two's-complement int64, wrapping in numpy ``uint64``
arithmetic. Rounding costs at most ``2**-(FRACTION_BITS+1)`` per silo and parameter, so the averaged model is
within ``n_silos * 2**-(FRACTION_BITS+1) / sum(w)`` of plain FedAvg (:func:`error_bound`). A weighted value
beyond ``2**(63-FRACTION_BITS) / n_silos`` would wrap and is refused.

Not implemented: dropout recovery (Shamir shares of each silo's mask seeds and a self-mask). A silo missing from
a round aborts the round with an error naming it. Keys are relayed unauthenticated: an orchestrator that
substitutes public keys (an active attacker, outside the honest-but-curious model) could unmask a silo; the
protocol's signed-key variant needs a PKI the deployment does not have.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from flaudit.errors import InputError

FRACTION_BITS = 24
SCALE = float(1 << FRACTION_BITS)
LIMIT = float(1 << (63 - FRACTION_BITS))


class SecAggError(InputError):
    """A secure-aggregation round cannot complete (a silo missing, a value out of range, mismatched keys)."""


def keypair() -> tuple[Any, str]:
    """(private key, base64 raw public key) for this silo and run."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, base64.b64encode(public).decode("ascii")


def private_bytes(private: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return base64.b64encode(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode("ascii")


def private_from(b64: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    return X25519PrivateKey.from_private_bytes(base64.b64decode(b64))


def pair_seeds(private: Any, me: str, peers: dict[str, str], session: str) -> dict[str, bytes]:
    """One 32-byte ChaCha20 key per peer: HKDF-SHA256 of the X25519 shared secret, bound to the run and pair."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    seeds = {}
    for peer, pub in peers.items():
        if peer == me:
            continue
        try:
            shared = private.exchange(X25519PublicKey.from_public_bytes(base64.b64decode(pub)))
        except ValueError as exc:
            raise SecAggError(f"secure aggregation: bad public key for silo {peer} ({exc})") from None
        a, b = sorted((me, peer))
        info = f"flaudit-secagg-v1|{session}|{a}|{b}".encode()
        seeds[peer] = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)
    return seeds


def mask_stream(seed: bytes, round_: int, n: int):
    """``n`` uniform uint64 masks: the ChaCha20 keystream under ``seed`` with the round as nonce."""
    import numpy as np
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    nonce = round_.to_bytes(16, "little")
    enc = Cipher(algorithms.ChaCha20(seed, nonce), mode=None).encryptor()
    return np.frombuffer(enc.update(bytes(8 * n)), dtype=np.uint64).copy()


def float_keys(state: dict[str, Any]) -> list[str]:
    """The tensors secure aggregation averages, in a fixed order; integer buffers cannot be summed blindly."""
    import torch

    keys = sorted(state)
    bad = [k for k in keys if not torch.is_floating_point(state[k])]
    if bad:
        raise SecAggError(f"secure aggregation averages floating-point tensors only; {bad[0]!r} is "
                          f"{state[bad[0]].dtype}")
    return keys


def quantize(values, n_silos: int):
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.size and float(np.max(np.abs(v))) >= LIMIT / max(n_silos, 1):
        raise SecAggError(f"secure aggregation: a weighted value exceeds the fixed-point range "
                          f"(|x| < {LIMIT / max(n_silos, 1):.3g})")
    return np.round(v * SCALE).astype(np.int64).view(np.uint64)


def masked_update(state: dict[str, Any], weight: float, me: str, seeds: dict[str, bytes], round_: int,
                  n_silos: int) -> bytes:
    """This silo's contribution: fixed-point ``[weight * tensors..., weight]`` plus its pairwise masks."""
    import numpy as np

    keys = float_keys(state)
    flat = np.concatenate([state[k].detach().double().reshape(-1).numpy() for k in keys] + [np.zeros(1)])
    flat[:-1] *= weight
    flat[-1] = weight
    vec = quantize(flat, n_silos)
    for peer, seed in seeds.items():
        m = mask_stream(seed, round_, vec.size)
        vec = vec + m if me < peer else vec - m  # uint64 wraps: arithmetic mod 2**64
    return vec.tobytes()


def unmask_sum(masked: list[bytes], like: dict[str, Any]) -> dict[str, Any]:
    """Sum the masked vectors (masks cancel) and divide by the summed weight: the weighted FedAvg."""
    import numpy as np
    import torch

    keys = float_keys(like)
    n = sum(like[k].numel() for k in keys) + 1
    total = np.zeros(n, dtype=np.uint64)
    for blob in masked:
        v = np.frombuffer(blob, dtype=np.uint64)
        if v.size != n:
            raise SecAggError(f"secure aggregation: a masked update has {v.size} values, the model needs {n}")
        total = total + v
    summed = total.view(np.int64).astype(np.float64) / SCALE
    weight = summed[-1]
    if not weight > 0:
        raise SecAggError("secure aggregation: the summed weight is not positive (masks did not cancel: a silo "
                          "used other keys or was left out)")
    out: dict[str, Any] = {}
    i = 0
    for k in keys:
        size = like[k].numel()
        out[k] = torch.from_numpy(summed[i:i + size] / weight).to(like[k].dtype).reshape(like[k].shape).contiguous()
        i += size
    out["__weight__"] = weight
    return out


def error_bound(n_silos: int, total_weight: float) -> float:
    """Largest difference from plain FedAvg that fixed-point rounding can cause (before the float32 cast)."""
    return n_silos * 2.0 ** -(FRACTION_BITS + 1) / total_weight


def digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
