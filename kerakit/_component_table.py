"""The table behind `kerakit.components`: one row per named component.

Each row gives the canonical `name`, the `target` (`"module:attribute"`,
imported lazily), a one-line `description`, optional `aliases`, `defaults`
applied before the user's arguments, and the `style`: `"build"` calls the
target with the arguments, `"object"` returns it as it is (activations) and
`"partial"` binds the arguments with `functools.partial` (data functions).
"""

from __future__ import annotations

from typing import Any


def _row(name: str, target: str, description: str, *aliases: str,
         style: str = "build", **defaults: Any) -> dict[str, Any]:
    return {"name": name, "target": target, "description": description,
            "aliases": aliases, "defaults": tuple(defaults.items()),
            "style": style}


_K = "keras:layers."
_KL = "kerakit.layers:"
LAYERS = [
    _row("conv1d", _K + "Conv1D", "1D convolution over sequences.",
         "convolution1d"),
    _row("conv2d", _K + "Conv2D", "2D convolution over images.",
         "convolution2d", "conv"),
    _row("conv3d", _K + "Conv3D", "3D convolution over volumes or video.",
         "convolution3d"),
    _row("conv2d_transpose", _K + "Conv2DTranspose",
         "Transposed 2D convolution (learned up-sampling).", "deconv2d",
         "deconvolution"),
    _row("dense", _K + "Dense", "Fully connected layer.", "linear",
         "fully_connected", "fc"),
    _row("simple_rnn", _K + "SimpleRNN", "Elman recurrent layer.", "rnn"),
    _row("lstm", _K + "LSTM", "Long short-term memory recurrent layer."),
    _row("gru", _K + "GRU", "Gated recurrent unit layer."),
    _row("bidirectional", _K + "Bidirectional",
         "Run a recurrent layer both ways (pass layer=...).", "birnn"),
    _row("multi_head_attention", _K + "MultiHeadAttention",
         "Multi-head attention; self (query=value) or cross attention.",
         "mha", "attention", "self_attention", "cross_attention"),
    _row("max_pooling1d", _K + "MaxPooling1D", "1D max pooling.",
         "maxpool1d"),
    _row("max_pooling2d", _K + "MaxPooling2D", "2D max pooling.",
         "maxpool2d", "maxpool", "max_pool"),
    _row("max_pooling3d", _K + "MaxPooling3D", "3D max pooling.",
         "maxpool3d"),
    _row("average_pooling1d", _K + "AveragePooling1D", "1D average pooling.",
         "avgpool1d"),
    _row("average_pooling2d", _K + "AveragePooling2D", "2D average pooling.",
         "avgpool2d", "avgpool", "avg_pool"),
    _row("average_pooling3d", _K + "AveragePooling3D", "3D average pooling.",
         "avgpool3d"),
    _row("global_average_pooling2d", _K + "GlobalAveragePooling2D",
         "Average over all spatial positions.", "gap", "global_avg_pool"),
    _row("global_max_pooling2d", _K + "GlobalMaxPooling2D",
         "Maximum over all spatial positions.", "global_max_pool"),
    _row("batch_normalization", _K + "BatchNormalization",
         "Batch normalisation.", "batch_norm", "bn"),
    _row("fused_batch_normalization", _KL + "FusedBatchNormalization",
         "Batch normalisation training with the backend's fused kernel "
         "(kerakit).", "fused_batch_norm"),
    _row("layer_normalization", _K + "LayerNormalization",
         "Layer normalisation over the feature axis.", "layer_norm", "ln"),
    _row("instance_normalization", _KL + "InstanceNormalization",
         "Per-sample, per-channel normalisation (kerakit).",
         "instance_norm"),
    _row("group_normalization", _K + "GroupNormalization",
         "Group normalisation (pass groups=...).", "group_norm", "gn"),
    _row("dropout", _K + "Dropout", "Zero random activations in training."),
    _row("drop_path", _KL + "DropPath",
         "Stochastic depth: drop a residual branch per sample (kerakit).",
         "stochastic_depth"),
    _row("embedding", _K + "Embedding", "Token id to learned vector."),
    _row("activation", _K + "Activation", "Apply an activation by name."),
    _row("leaky_relu", _K + "LeakyReLU", "LeakyReLU layer, slope 0.01 "
         "by default (the seed's).", "lrelu", negative_slope=0.01),
    _row("prelu", _K + "PReLU", "LeakyReLU with a learned slope."),
    _row("flatten", _K + "Flatten", "Flatten all but the batch axis."),
    _row("gcn_conv", _KL + "GCNConv",
         "Graph convolution, dense adjacency or edge list (kerakit).",
         "gcn", "graph_conv"),
    _row("gat_conv", _KL + "GATConv",
         "Graph attention, dense adjacency or edge list (kerakit).",
         "gat", "graph_attention"),
    _row("graph_transformer_attention", _KL + "GraphTransformerAttention",
         "Multi-head attention over each node's neighbours, optional edge "
         "features (kerakit).", "graph_transformer_layer"),
    _row("graph_readout", _KL + "GraphReadout",
         "Pool node states per graph (mean/sum/max) of a disjoint union "
         "(kerakit).", "graph_pooling", "readout"),
    _row("random_sign_flip", _KL + "RandomSignFlip",
         "Flip the sign of each eigenvector column at training time "
         "(Laplacian positions; kerakit).", "sign_flip"),
    _row("patch_embedding", _KL + "PatchEmbedding",
         "Image to patch tokens, as in ViT (kerakit).", "patch_embed",
         "patchify"),
    _row("contrastive_logits", _KL + "ContrastiveLogits",
         "Pair similarity logits with a learnable temperature (kerakit).",
         "logit_scale"),
    _row("co_attention", _KL + "CoAttention",
         "ViLBERT's co-attentional transformer layer: two streams trade "
         "keys and values (kerakit).", "co_trm"),
    _row("region_embedding", _KL + "RegionEmbedding",
         "Image regions plus their boxes to visual tokens behind [IMG] "
         "(ViLBERT; kerakit)."),
]

_A = "keras:activations."
ACTIVATIONS = [
    _row("relu", _A + "relu", "max(x, 0).", style="object"),
    _row("sigmoid", _A + "sigmoid", "1 / (1 + exp(-x)).", "logistic",
         style="object"),
    _row("tanh", _A + "tanh", "Hyperbolic tangent.", style="object"),
    _row("gelu", _A + "gelu", "Gaussian error linear unit.", style="object"),
    _row("leaky_relu", "kerakit.activations:leaky_relu",
         "max(x, 0.01 x): the seed's slope (Keras' default is 0.2).",
         "lrelu", style="object"),
    _row("swish", "kerakit.activations:Swish",
         "x * sigmoid(beta x), beta=1 by default (pass beta=...).", "silu"),
    _row("softmax", _A + "softmax", "Normalised exponentials over the last "
         "axis.", style="object"),
    _row("elu", _A + "elu", "Exponential linear unit.", style="object"),
    _row("selu", _A + "selu", "Scaled ELU (self-normalising).", style="object"),
    _row("softplus", _A + "softplus", "log(1 + exp(x)).", style="object"),
    _row("mish", _A + "mish", "x * tanh(softplus(x)).", style="object"),
    _row("linear", _A + "linear", "Identity.", "identity", "none",
         style="object"),
]

_O = "keras:optimizers."
OPTIMIZERS = [
    _row("sgd", _O + "SGD", "Stochastic gradient descent (momentum=, "
         "nesterov=).", "momentum"),
    _row("adam", _O + "Adam", "Adam."),
    _row("rmsprop", _O + "RMSprop", "RMSprop.", "rms_prop"),
    _row("adamw", _O + "AdamW", "Adam with decoupled weight decay "
         "(weight_decay=, default 0.004).", "adam_w"),
    _row("adagrad", _O + "Adagrad", "Adagrad."),
    _row("nadam", _O + "Nadam", "Adam with Nesterov momentum."),
    _row("lamb", _O + "Lamb", "Layer-wise adaptive large-batch optimizer."),
]

_S = "keras:optimizers.schedules."
SCHEDULES = [
    _row("step", "kerakit.optimizers:step_decay",
         "Multiply the rate by factor every step_size steps.", "step_decay",
         "step_lr"),
    _row("cosine", _S + "CosineDecay", "Cosine decay (optional built-in "
         "warmup_steps).", "cosine_decay", "cosine_annealing"),
    _row("linear_warmup", "kerakit.optimizers:LinearWarmup",
         "Linear warm-up to a rate or schedule (kerakit).", "warmup"),
    _row("exponential", _S + "ExponentialDecay", "Exponential decay.",
         "exponential_decay"),
    _row("piecewise_constant", _S + "PiecewiseConstantDecay",
         "Constant rate per step interval.", "multistep", "piecewise"),
    _row("polynomial", _S + "PolynomialDecay", "Polynomial decay "
         "(power=1 is linear).", "polynomial_decay", "linear_decay"),
]

_L = "keras:losses."
LOSSES = [
    _row("categorical_crossentropy", _L + "CategoricalCrossentropy",
         "Cross-entropy on one-hot targets; from_logits=True by default.",
         "categorical_cross_entropy", "cce", from_logits=True),
    _row("sparse_categorical_crossentropy",
         _L + "SparseCategoricalCrossentropy",
         "Cross-entropy on integer targets; from_logits=True by default.",
         "cross_entropy", "crossentropy", "ce",
         "sparse_categorical_cross_entropy", "scce", "nll",
         from_logits=True),
    _row("binary_crossentropy", _L + "BinaryCrossentropy",
         "Binary cross-entropy; from_logits=True by default.",
         "binary_cross_entropy", "bce", "bce_with_logits",
         from_logits=True),
    _row("mean_squared_error", _L + "MeanSquaredError",
         "Mean squared error.", "mse", "l2_loss"),
    _row("mean_absolute_error", _L + "MeanAbsoluteError",
         "Mean absolute error.", "mae", "l1_loss"),
    _row("huber", _L + "Huber", "Huber loss (delta=).", "smooth_l1",
         "huber_loss"),
    _row("kl_divergence", _L + "KLDivergence",
         "Kullback-Leibler divergence of probability targets.", "kld",
         "kl", "kullback_leibler_divergence"),
    _row("dice", "kerakit.losses:DiceLoss",
         "Soft Dice loss for segmentation masks (kerakit).", "dice_loss"),
    _row("ctc", _L + "CTC", "Connectionist temporal classification.",
         "ctc_loss"),
    _row("triplet", "kerakit.losses:TripletLoss",
         "Triplet margin loss, batch-all or batch-hard mining (kerakit).",
         "triplet_loss", "triplet_margin"),
    _row("info_nce", "kerakit.losses:InfoNCE",
         "Contrastive InfoNCE for paired embeddings, CLIP style (kerakit).",
         "contrastive", "clip_loss", "nt_xent"),
]

_R = "keras:regularizers."
REGULARIZERS = [
    _row("l1", _R + "L1", "L1 penalty on weights (l1=)."),
    _row("l2", _R + "L2", "L2 penalty on weights (l2=)."),
    _row("l1l2", _R + "L1L2", "L1 plus L2 penalty (l1=, l2=).",
         "l1_l2", "elastic_net"),
    _row("weight_decay", "kerakit.regularizers:weight_decay",
         "L2 penalty equal to SGD weight decay (rate=); optimizers also "
         "take weight_decay=.", "decay"),
    _row("orthogonal", _R + "OrthogonalRegularizer",
         "Push weight rows towards orthogonality."),
    _row("distillation", "kerakit.distillation:Distiller",
         "Knowledge distillation model (teacher=, student=, temperature=, "
         "alpha=).", "knowledge_distillation", "distiller"),
]

_C = "keras:callbacks."
CALLBACKS = [
    _row("early_stopping", _C + "EarlyStopping",
         "Stop when the monitored metric stops improving (patience=).",
         "early_stop", "earlystop"),
    _row("model_checkpoint", _C + "ModelCheckpoint",
         "Save the model (or best model) during training.", "checkpoint"),
    _row("reduce_lr_on_plateau", _C + "ReduceLROnPlateau",
         "Cut the learning rate when the metric stalls.", "reduce_lr",
         "plateau"),
    _row("learning_rate_scheduler", _C + "LearningRateScheduler",
         "Set the rate per epoch from a function.", "lr_scheduler"),
    _row("csv_logger", _C + "CSVLogger", "Append epoch results to a CSV."),
    _row("tensorboard", _C + "TensorBoard", "Write TensorBoard logs."),
    _row("terminate_on_nan", _C + "TerminateOnNaN",
         "Stop when the loss becomes NaN."),
]

_M = "keras:metrics."
METRICS = [
    _row("accuracy", _M + "Accuracy", "Exact-match accuracy.", "acc"),
    _row("sparse_categorical_accuracy", _M + "SparseCategoricalAccuracy",
         "Accuracy of argmax against integer labels.", "sparse_accuracy"),
    _row("categorical_accuracy", _M + "CategoricalAccuracy",
         "Accuracy of argmax against one-hot labels."),
    _row("binary_accuracy", _M + "BinaryAccuracy",
         "Accuracy of thresholded binary predictions (threshold=)."),
    _row("top_k_accuracy", _M + "SparseTopKCategoricalAccuracy",
         "Whether the label is in the top k (k=).", "top5",
         "sparse_top_k_categorical_accuracy"),
    _row("auc", _M + "AUC", "Area under the ROC (or PR) curve."),
    _row("precision", _M + "Precision", "Binary precision."),
    _row("recall", _M + "Recall", "Binary recall."),
    _row("mean_absolute_error", _M + "MeanAbsoluteError", "Mean absolute "
         "error.", "mae"),
    _row("mean_squared_error", _M + "MeanSquaredError", "Mean squared "
         "error.", "mse"),
]

_D = "kerakit.data."
PREPROCESSING = [
    _row("normalization", _K + "Normalization",
         "Standardise features (adapt() on data, or mean=/variance=).",
         "normalize", "standardize"),
    _row("rescaling", _K + "Rescaling", "Multiply and shift (scale=, "
         "offset=), e.g. 1/255.", "rescale"),
    _row("resizing", _K + "Resizing", "Resize images (height=, width=).",
         "resize"),
    _row("center_crop", _K + "CenterCrop", "Crop the image centre."),
    _row("zero_padding2d", _K + "ZeroPadding2D", "Pad images with zeros.",
         "pad_image", "zero_pad"),
    _row("random_flip", _K + "RandomFlip", "Random horizontal/vertical "
         "flips (augmentation).", "flip"),
    _row("random_rotation", _K + "RandomRotation", "Random rotation "
         "(factor= in turns).", "rotation", "rotate"),
    _row("random_crop", _K + "RandomCrop", "Random crop to height, width.",
         "crop"),
    _row("random_translation", _K + "RandomTranslation",
         "Random shifts.", "translation", "shift"),
    _row("random_zoom", _K + "RandomZoom", "Random zoom.", "zoom"),
    _row("gaussian_noise", _K + "GaussianNoise", "Additive Gaussian noise "
         "in training (stddev=).", "noise"),
    _row("pad_sequences", "keras:utils.pad_sequences",
         "Pad/truncate id sequences to maxlen (a function).", "padding",
         "truncation", style="partial"),
    _row("text_vectorization", _K + "TextVectorization",
         "Keras' string-to-ids layer (adapt() on a corpus)."),
    _row("word_tokenizer", _D + "text:WordTokenizer",
         "Word-level tokenizer with padding/truncation (kerakit).",
         "word", "tokenizer"),
    _row("wordpiece", _D + "text:train_wordpiece",
         "WordPiece tokenizer learned from a local corpus (keras-hub).",
         "word_piece", style="partial"),
    _row("bpe", _D + "text:train_bpe",
         "Byte-pair-encoding tokenizer learned from a local corpus.",
         "byte_pair", "byte_pair_encoding", style="partial"),
    _row("pca", _D + "features:pca", "Principal components "
         "(scikit-learn).", "principal_components", style="partial"),
    _row("tsne", _D + "features:tsne", "t-SNE 2D embedding "
         "(scikit-learn).", "t_sne", style="partial"),
    _row("feature_selection", _D + "features:select_features",
         "Keep the k most informative features (scikit-learn).",
         "select_k_best", style="partial"),
    _row("gaussian_denoise", _D + "features:gaussian_denoise",
         "Gaussian-filter denoising of images or signals.", "denoise",
         "gaussian_filter", style="partial"),
    _row("image_patches", _D + "features:image_patches",
         "Cut images into non-overlapping patches.", "patches",
         style="partial"),
    _row("images_to_tensor", _D + "features:images_to_tensor",
         "Images (arrays/PIL/files) to a float32 batch in [0, 1].",
         "to_tensor", style="partial"),
]

TABLE: dict[str, list[dict[str, Any]]] = {
    "layers": LAYERS,
    "activations": ACTIVATIONS,
    "optimizers": OPTIMIZERS,
    "schedules": SCHEDULES,
    "losses": LOSSES,
    "metrics": METRICS,
    "regularizers": REGULARIZERS,
    "callbacks": CALLBACKS,
    "preprocessing": PREPROCESSING,
}
