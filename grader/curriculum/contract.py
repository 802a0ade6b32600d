"""The exercise contract's words: conventions, chapter titles and each exercise's
semantics, as data. `grader.curriculum.document` joins them with the registry (ids,
points, banned routines) and the stubs' signatures into `docs/curriculum.md`.

Change an exercise's meaning here and nowhere else; then regenerate the document:

    python -m grader.curriculum.document --write
"""

from __future__ import annotations

INTRODUCTION = """\
# dlcourse curriculum: the exercise contract

This file is the contract between the exercises a student fills in, the reference
solutions, and the grader. Every exercise below has an id `chN.name`, a function
`name` with exactly this signature, and exactly these semantics. The grader finds a
student's function by its name inside the chapter's module(s) in `exercises/`; the
file layout inside a chapter is the project's choice.

You may add exercises beyond this list (keep the same conventions). Do not rename,
drop or change the signature or meaning of one listed here: course material, CI
workflows and instructor tooling depend on these names.

## Conventions for every exercise

- Inputs and outputs are `torch.Tensor` unless stated. A function works for float32
  and float64 and for any device: outputs keep the dtype and device of the inputs.
  A tensor created inside a function (zeros, arange, masks) must be created on the
  input's device, so the same code runs on CPU and GPU.
- Functions never modify their arguments in place (return new tensors), unless an
  exercise says otherwise.
- Graded functions are deterministic. Randomness is passed in: `u` is a tensor of
  uniform [0, 1) draws, `eps` / `noise` / `z` are standard normal draws. Only the
  "train" exercises draw their own randomness, from the `seed` they are given.
- Backward functions take the upstream gradient first, then the forward's own inputs
  (no opaque caches), and return gradients in the order listed, each with the shape
  of the input it belongs to.
- Losses are scalars (0-d tensors), averaged over the batch unless stated.
- Every loss built on a softmax or a sigmoid (cross-entropy in any form, BCE, InfoNCE,
  CLIP, GAN losses, label smoothing, the losses inside `softmax_regression_grad` and
  `mlp_loss_and_grads`) is finite wherever the true value is finite, in float32 as in
  float64: compute log-probabilities in log-sum-exp form (`z - max - log(sum(exp(z - max)))`),
  never as the log of a probability that can underflow to 0. Shifting by the max alone
  is not enough. Gradients follow the same rule.
- Linear maps follow PyTorch's `nn.Linear`: `y = x @ W.T + b`, `W` of shape
  (out, in), except where a signature says `x @ W` with `W` (in, out).
- Boolean masks are True where attention is ALLOWED (the convention of
  `torch.nn.functional.scaled_dot_product_attention`, the opposite of
  `nn.MultiheadAttention`'s `attn_mask`).
- An exercise must not call the PyTorch routine that does the same job (listed per
  exercise as *banned*). No exercise may use autograd (`backward`,
  `torch.autograd.*`, `requires_grad`) except where it says "autograd allowed" (the
  train exercises). The grader enforces both and names the call it found.
- Shapes: N batch, D input features, C classes, H hidden size, T time steps,
  E model width, V vocabulary, K clusters.
"""

TITLES = {'ch1': 'Machine learning overview (probability and unsupervised basics)',
 'ch2': 'Linear regression and classification',
 'ch3': 'Classical ML: support vector machines',
 'ch4': 'Backpropagation, optimisation and normalisation',
 'ch5': 'Convolutional networks',
 'ch6': 'Generalisation and regularisation',
 'ch7': 'Recurrent networks',
 'ch8': 'NLP basics, Transformers, self-supervised learning',
 'ch9': 'Large language models',
 'ch10': 'Generative models: VAE, GAN, diffusion',
 'ch11': 'Multi-modal models'}

NOTES = {'ch7': 'Weights follow PyTorch: W_ih (G H, D), W_hh (G H, H) with G = 1 (RNN), 4 (LSTM, gate\n'
        'order i, f, g, o), 3 (GRU, order r, z, n). Sequences are batch-first (N, T, D); states '
        'h0, c0, h_T, c_T are (N, H).'}

SEMANTICS = {'ch1.softmax': 'exp-normalise along `dim`; finite for logits of any magnitude (subtract the max). '
                'banned: torch.softmax, F.softmax, Tensor.softmax',
 'ch1.log_softmax': 'log of the above, finite for large magnitudes (log-sum-exp). banned: '
                    'F.log_softmax, torch.log_softmax, torch.logsumexp',
 'ch1.conditional_from_joint': 'joint (X, Y) table of P(x, y); returns P(y given x) = P(x, y) / '
                               'P(x), rows of zero mass return all zeros',
 'ch1.boltzmann': 'energy-based model: p_i = exp(-E_i / T) / sum_j exp(-E_j / T) over the last '
                  'dim; stable for large energies',
 'ch1.kmeans': "Lloyd's algorithm for exactly `iters` iterations from (K, D) `init_centroids` on "
               '(N, D) `x`; returns (centroids (K, D), assignments (N,) int64 of the final '
               'centroids); distance ties go to the lower index; an empty cluster keeps its '
               'previous centroid',
 'ch1.pca': 'returns (components (k, D), explained_variance (k,)) of centred `x`, variance with '
            "denominator N-1 (as scikit-learn's PCA); sign fixed so the entry of largest magnitude "
            'of each component is positive',
 'ch2.linear_regression_fit': 'closed-form ridge: minimise sum (X w + b - y)^2 + l2 * ||w||^2, '
                              "bias not penalised (scikit-learn's `Ridge(alpha=l2)`); returns (w "
                              '(D,), b 0-d)',
 'ch2.mse_loss': 'mean of squared errors',
 'ch2.linear_regression_gd': 'full-batch gradient descent on mean((X w + b - y)^2) from w = 0, b = '
                             "0 for `steps` steps, both updated from the same step's gradients; "
                             'returns (w (D,), b 0-d)',
 'ch2.sigmoid': '1 / (1 + exp(-x)), finite and exact in both tails. banned: torch.sigmoid, '
                'F.sigmoid, Tensor.sigmoid',
 'ch2.bce_with_logits': 'targets in [0, 1] (soft targets allowed); mean binary cross-entropy from '
                        'logits, stable for large magnitudes. banned: '
                        'F.binary_cross_entropy_with_logits, F.binary_cross_entropy',
 'ch2.logistic_regression_grad': 'loss = bce_with_logits(X w + b, y) with y in {0, 1}, b a 0-d '
                                 'tensor; returns (loss, dw, db) with db 0-d',
 'ch2.softmax_regression_grad': 'scores = X @ W + b with W (D, C); mean cross-entropy with int64 '
                                'labels y; returns (loss, dW, db); finite for large scores '
                                '(log-sum-exp)',
 'ch3.hinge_loss_grad': 'objective 0.5 ||w||^2 + C * mean(max(0, 1 - y (X w + b))) with y in {-1, '
                        '+1}, b a 0-d tensor; returns (loss, dw, db) with db 0-d; a margin of '
                        'exactly 1 contributes no gradient',
 'ch3.multiclass_svm_loss': 'Weston-Watkins multiclass hinge with margin 1, scores = X @ W, W (D, '
                            'C): mean over samples of sum over j != y of max(0, s_j - s_y + 1), '
                            'plus reg * sum(W^2); returns (loss, dW); a term of exactly 0 '
                            'contributes no gradient',
 'ch3.linear_kernel': 'X @ Y.T, as `sklearn.metrics.pairwise.linear_kernel`',
 'ch3.polynomial_kernel': '(gamma X @ Y.T + coef0)^degree, gamma None means 1 / D, as scikit-learn',
 'ch3.rbf_kernel': 'exp(-gamma ||x - y||^2), gamma None means 1 / D, as scikit-learn; squared '
                   'distances clamped at 0, so no entry exceeds 1. banned: torch.cdist',
 'ch3.svm_decision_function': 'binary kernel SVM scores sum_i dual_coef_i K(sv_i, x) + intercept '
                              'with kernel one of "linear", "poly", "rbf" and the kernel functions '
                              'above (gamma None means 1 / D, scikit-learn\'s gamma="auto"); '
                              'equals scikit-learn `SVC.decision_function` given its '
                              '`support_vectors_`, `dual_coef_[0]`, `intercept_[0]` and the same '
                              'kernel parameters',
 'ch3.train_linear_svm': 'train a linear soft-margin SVM (y in {-1, +1}) by any method except '
                         'scikit-learn (autograd allowed here), deterministic for a given seed; '
                         'returns (w (D,), b 0-d); graded by held-out accuracy against '
                         "scikit-learn's `LinearSVC` on the same data",
 'ch4.linear_forward': 'x @ W + b with W (D, M)',
 'ch4.linear_backward': 'returns (dx, dW, db)',
 'ch4.relu_backward': 'dx; the gradient at exactly 0 is 0',
 'ch4.sigmoid_backward': 'dx of sigmoid at x',
 'ch4.tanh_backward': 'dx of tanh at x',
 'ch4.softmax_cross_entropy': 'mean cross-entropy over N with int64 labels; returns (loss, '
                              'dlogits); stable for large logits',
 'ch4.mlp_loss_and_grads': 'params dict W1 (D, H), b1, W2 (H, C), b2; scores = relu(X W1 + b1) W2 '
                           '+ b2; mean softmax cross-entropy, finite for large scores '
                           '(log-sum-exp); returns (loss, grads) with grads a dict of the same '
                           'keys',
 'ch4.numerical_gradient': 'central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every entry '
                           'of x, f maps a tensor to a scalar tensor; x is left unchanged',
 'ch4.sgd_step': 'returns w - lr dw',
 'ch4.sgd_momentum_step': 'as `torch.optim.SGD` (dampening 0): v = momentum v + dw; w = w - lr v, '
                          'or with nesterov w = w - lr (dw + momentum v); returns (w, v)',
 'ch4.rmsprop_step': 'as `torch.optim.RMSprop`: s = alpha s + (1 - alpha) dw^2; w = w - lr dw / '
                     '(sqrt(s) + eps); returns (w, s)',
 'ch4.adam_step': 'as `torch.optim.Adam` at step t (t starts at 1), weight decay added to the '
                  'gradient; returns (w, m, v)',
 'ch4.batchnorm_forward': 'x (N, D), as `torch.nn.functional.batch_norm`: training normalises with '
                          "the batch's biased variance and updates running stats with the unbiased "
                          'one; eval uses the running stats; returns (out, new_running_mean, '
                          'new_running_var) and never changes its inputs. banned: F.batch_norm, '
                          'torch.batch_norm',
 'ch4.batchnorm_backward': 'training mode; returns (dx, dgamma, dbeta)',
 'ch4.layernorm_forward': 'normalise over the last dim, as `F.layer_norm`. banned: F.layer_norm, '
                          'torch.layer_norm',
 'ch4.layernorm_backward': 'returns (dx, dgamma, dbeta)',
 'ch5.conv2d_forward': 'x (N, C, H, W), w (F, C, kh, kw), b (F,); stride and padding are ints used '
                       'for both dims; cross-correlation with zero padding, as `F.conv2d`. banned: '
                       'F.conv2d, torch.conv2d, F.unfold, F.fold, nn.Conv2d (Tensor.unfold and '
                       'as_strided are allowed)',
 'ch5.conv2d_backward': 'returns (dx, dw, db). banned as above',
 'ch5.im2col': '(N, C * kh * kw, L) patches in the layout of `F.unfold`; kernel_size an int or '
               '(kh, kw). banned: F.unfold',
 'ch5.maxpool2d_forward': 'kernel_size and stride ints; as `F.max_pool2d` without padding (floor '
                          'mode). banned: F.max_pool2d, torch.max_pool2d',
 'ch5.maxpool2d_backward': 'dx; within a window the whole gradient goes to the first maximum in '
                           'row-major order; overlapping windows add up',
 'ch5.digits_train_predict': 'train any model (nn.Conv2d, torch.optim and autograd allowed here) '
                             "on scikit-learn's 8x8 digits, X (N, 1, 8, 8) float in [0, 1]; return "
                             'int64 labels for X_test; graded by held-out accuracy (labels never '
                             'reach the student) within a time limit on CPU',
 'ch6.dropout_forward': 'inverted dropout: keep where u >= p, scale kept values by 1 / (1 - p); p '
                        '= 1 gives zeros; eval returns x unchanged. banned: F.dropout, '
                        'torch.dropout',
 'ch6.dropout_backward': 'dx in training mode; p = 1 gives zeros',
 'ch6.adamw_step': 'as `torch.optim.AdamW` (decoupled decay); returns (w, m, v)',
 'ch6.label_smoothing_cross_entropy': 'logits (N, C), int64 labels (no ignore_index, no class '
                                      'weights); as `F.cross_entropy(..., '
                                      'label_smoothing=smoothing)`, finite for large logits. '
                                      'banned: F.cross_entropy, F.nll_loss',
 'ch6.early_stopping': 'val_losses a list of floats, one per epoch, epochs numbered from 0; epoch '
                       '0 sets the best; a later epoch improves when its loss < best - min_delta; '
                       'patience >= 1; returns (best_epoch, stop_epoch) where stop_epoch is the '
                       'first epoch that completes `patience` epochs in a row without improvement, '
                       'or None, and best_epoch is the last improving epoch up to stop_epoch (or '
                       'up to the end)',
 'ch6.mixup': 'returns (lam x + (1 - lam) x[perm], lam y + (1 - lam) y[perm])',
 'ch6.kfold_indices': 'list of k (train_idx, val_idx) pairs of int64 CPU tensors in increasing '
                      'order, equal to scikit-learn `KFold(k, shuffle=False)`',
 'ch7.rnn_step_forward': 'h = tanh(x W_ih^T + h_prev W_hh^T + b)',
 'ch7.rnn_step_backward': 'returns (dx, dh_prev, dW_ih, dW_hh, db)',
 'ch7.rnn_forward': 'hs (N, T, H)',
 'ch7.rnn_backward': 'BPTT given dL/dhs (N, T, H); returns (dx, dh0, dW_ih, dW_hh, db)',
 'ch7.lstm_step_forward': 'as `nn.LSTMCell` with one bias b (4H,); returns (h, c). banned: '
                          'torch.lstm_cell, nn.LSTMCell, nn.LSTM',
 'ch7.lstm_step_backward': 'returns (dx, dh_prev, dc_prev, dW_ih, dW_hh, db)',
 'ch7.lstm_forward': 'returns (hs (N, T, H), (h_T, c_T)), as `nn.LSTM(batch_first=True)` with one '
                     'layer',
 'ch7.gru_step_forward': 'as `nn.GRUCell`: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h = (1 - '
                         'z) n + z h_prev. banned: torch.gru_cell, nn.GRUCell, nn.GRU',
 'ch7.clip_grad_norm': 'grads a list of tensors; total = 2-norm of all entries; scale every grad '
                       'by min(1, max_norm / (total + 1e-6)); returns (clipped list, total as a '
                       '0-d tensor) and leaves the inputs unchanged',
 'ch8.embedding_backward': 'dout (N, T, E), idx (N, T) int64; returns dW (V, E) where repeated '
                           'indices add up',
 'ch8.causal_mask': 'bool (T, T), True on and below the diagonal',
 'ch8.scaled_dot_product_attention': 'q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv); softmax(q '
                                     'k^T / sqrt(d)) v with positions where the broadcastable bool '
                                     'mask is False excluded; a fully masked query row gets zero '
                                     'weights and a zero output; returns (out, weights). banned: '
                                     'F.scaled_dot_product_attention, '
                                     'F.multi_head_attention_forward',
 'ch8.multi_head_attention': '(N, T, E) inputs, (E, E) weights in nn.Linear layout; returns out '
                             '(N, T, E) only; equals `nn.MultiheadAttention(E, num_heads, '
                             'batch_first=True)` with in_proj = cat(W_q, W_k, W_v), out_proj = W_o '
                             'and its attn_mask = ~mask; mask is bool (T, S) or broadcastable to '
                             '(N, num_heads, T, S); a fully masked query row attends to nothing '
                             '(zero attention output, so its output is b_o). banned as above and '
                             'nn.MultiheadAttention',
 'ch8.sinusoidal_positional_encoding': '(T, d) float32: PE[p, 2i] = sin(p / 10000^(2i / d)), PE[p, '
                                       '2i + 1] = cos(same); for odd d the last column is a sin '
                                       'column',
 'ch8.transformer_encoder_layer': 'pre-LayerNorm block equal to `nn.TransformerEncoderLayer(E, '
                                  'num_heads, dim_feedforward, dropout=0, activation="relu", '
                                  'batch_first=True, norm_first=True)`; params dict keys W_q W_k '
                                  'W_v W_o b_q b_k b_v b_o ln1_w ln1_b ln2_w ln2_b W_1 b_1 W_2 b_2 '
                                  '(nn.Linear layout); mask as in multi_head_attention. banned: '
                                  'nn.TransformerEncoderLayer, nn.MultiheadAttention, '
                                  'F.multi_head_attention_forward (F.layer_norm and F.linear are '
                                  'allowed here)',
 'ch8.info_nce_loss': 'SimCLR NT-Xent: z1, z2 (N, d) two views; 2N anchors, cosine similarity / '
                      "temperature, each anchor's positive is its other view, the other 2N - 2 are "
                      'negatives, self excluded; mean over 2N anchors; finite for small '
                      'temperatures (log-sum-exp)',
 'ch9.bpe_train': 'byte-level BPE on text.encode("utf-8"): ids 0-255 are bytes, merge k creates id '
                  '256 + k from the most frequent adjacent pair (overlapping occurrences all '
                  'count: "aaa" holds (a, a) twice), ties going to the pair that occurs first in '
                  'the current sequence; a merge replaces occurrences left to right without '
                  'overlap ("aaa" -> [256, 97]); returns the list of merged pairs [(a, b), ...] in '
                  'order; stops early when no pair occurs twice',
 'ch9.bpe_encode': 'list[int]: apply merges in order of creation (lowest new id first)',
 'ch9.bpe_decode': 'str, undecodable bytes replaced (errors="replace")',
 'ch9.top_k_filter': 'last-dim logits, k >= 1; keep every logit >= the k-th largest (ties kept; k '
                     '>= V keeps all), set the rest to -inf',
 'ch9.top_p_filter': 'sort probabilities descending (equal probabilities: lower index first); keep '
                     'a token when the total probability of the tokens strictly before it is < p '
                     '(the top token is always kept); the rest -inf',
 'ch9.sample_token': 'logits (V,) or (N, V), u (N,) or 0-d uniform; temperature 0 means argmax '
                     '(lowest index on ties), otherwise the smallest index whose cumulative '
                     'softmax(logits / temperature) exceeds u; int64, 0-d for 1-d logits, (N,) for '
                     '(N, V)',
 'ch9.perplexity': 'exp of mean token cross-entropy over targets != ignore_index; logits (N, T, V)',
 'ch9.kv_cache_attend': 'one decoding step with (N, h, 1, d) q/k/v and (N, h, t, d) caches (t may '
                        'be 0); appends to the caches; returns (out (N, h, 1, d), cache_k, '
                        'cache_v); a whole sequence decoded this way equals causal attention over '
                        'it',
 'ch9.rope': 'rotary embedding of x (..., T, d), d even, positions (T,) int64: each pair (x[2i], '
             'x[2i+1]) at position p is rotated by angle p * base^(-2i / d)',
 'ch9.lora_forward': 'x @ W^T + b + (alpha / r) x @ A^T @ B^T with A (r, D_in), B (D_out, r)',
 'ch10.reparameterize': 'mu + exp(0.5 logvar) eps',
 'ch10.gaussian_kl': '(N,) KL(N(mu, diag exp(logvar)) || N(0, I)) summed over the latent dim',
 'ch10.vae_loss': 'mean over N of [Bernoulli negative log-likelihood from logits summed over every '
                  'non-batch dim + gaussian_kl]',
 'ch10.gan_discriminator_loss': 'logits of any shape (e.g. (N,) or (N, 1)); mean BCE(real, 1) + '
                                'mean BCE(fake, 0), from logits, finite for any magnitude',
 'ch10.gan_generator_loss': 'non-saturating: mean BCE(fake, 1) = mean softplus(-fake_logits)',
 'ch10.linear_beta_schedule': '(T,) float64 evenly spaced betas from beta_start to beta_end '
                              'inclusive, as `torch.linspace` (T = 1 gives [beta_start])',
 'ch10.cosine_beta_schedule': 'Nichol and Dhariwal: alpha_bar(t) = cos^2(((t / T) + s) / (1 + s) * '
                              'pi / 2) / alpha_bar(0), beta_t = 1 - alpha_bar(t) / alpha_bar(t - '
                              '1) for t = 1..T, clipped to at most 0.999; (T,) float64',
 'ch10.q_sample': 't (N,) int64 indices into alphas_cumprod; sqrt(a_t) x0 + sqrt(1 - a_t) noise, '
                  "broadcast over non-batch dims; returns x0's dtype",
 'ch10.ddpm_step': 'one ancestral step at integer t (0-based, same t for the batch): mean = (x_t - '
                   'beta_t / sqrt(1 - abar_t) eps_pred) / sqrt(alpha_t); variance = posterior (1 - '
                   "abar_{t-1}) / (1 - abar_t) beta_t; no noise added at t = 0; returns x_t's "
                   'dtype',
 'ch10.ddim_step': "deterministic DDIM (eta = 0); t_prev = -1 means alpha_bar = 1; returns x_t's "
                   'dtype',
 'ch10.diffusion_train_sample': 'train any diffusion model (nn modules, torch.optim and autograd '
                                'allowed here) on 2-D points (N, 2) and return (num_samples, 2) '
                                'samples; graded by a two-sample distance to held-out points '
                                'against a fitted Gaussian baseline, within a time limit on CPU; '
                                'samples that copy training points (memorisation) get no marks',
 'ch11.clip_loss': 'L2-normalise both, logits = logit_scale * img @ txt^T; mean of cross-entropy '
                   'over rows and over columns with matching pairs on the diagonal; finite for '
                   'large logit_scale (log-sum-exp)',
 'ch11.zero_shot_classify': 'cosine similarities times logit_scale, softmax over classes; returns '
                            '(probs (N, C), preds (N,) int64)',
 'ch11.retrieval_recall_at_k': '0-d tensor: fraction of images whose matching text (same row) is '
                               'among the k most cosine-similar texts, i.e. fewer than k texts are '
                               'at least as similar as the match, the match itself not counted; '
                               'ties counted against the image'}
