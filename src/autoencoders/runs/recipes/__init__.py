"""The classic experiments, registered in :data:`autoencoders.registry.experiments`.

==================  =============================================================================
name                compares
==================  =============================================================================
dense-ae            784-400-z dense AEs (MSE) at code sizes 2, 10, 20, 50
linear-vs-pca       a linear AE with an identity output against exact PCA at k = 2, 10, 20, 32
conv-denoising      convolutional DAEs over noise_factor 0.1 ... 0.7, ranked by denoising MSE
vae-hz              the six (h, z) VAEs and the four-layer 784-400-100-20 VAE
vae-to-ae           the best VAE of vae-hz against the same network as a deterministic AE
relu-vs-sigmoid     a multi-layer AE with a 2-D code, ReLU against sigmoid hidden units
dae-noise-types     Gaussian-noise against masking-noise DAEs, their first-layer filters
ae-vs-vae-latents   the 2-D codes of a plain AE and of a VAE on one figure
small-conv-latents  the small Keras-style conv AE over code sizes 2, 4, 8, 16, and denoising
face-vae            the 64x64 face VAE (z = 512) with the original optimizer and loss
families            beta-VAE, IWAE, WAE-MMD, VQ-VAE, sparse and contractive AEs, same budget
==================  =============================================================================

Run one with ``autoencoders experiment run NAME --out DIR`` (``--quick`` for a smoke test) or
:func:`autoencoders.runs.run_experiment`.
"""

from autoencoders.runs.recipes import classic, denoising, faces, families, latents

__all__ = ["classic", "denoising", "faces", "families", "latents"]
