"""What makes a generator or discriminator class-conditional (--conditional), shared by every
architecture: G's input is z with an embedding of the class concatenated to it, and D is a
projection discriminator (Miyato & Koyama 2018), logit = head(h) + <embed(y), h>.

G's conditioning is the concatenation of Mirza & Osindero (2014) rather than the projection
paper's conditional BatchNorm: it is one Embedding in front of an unchanged network, for
every architecture alike (G's first layer just takes 2 * nz inputs), and with num_classes=0
the module tree, and so the state_dict, is exactly the unconditional one.
"""
from .. import functional as F
from .. import init, nn

# The projection's class embedding starts at the scale of the weights it is added to (init_weights').
PROJECTION_INIT_STD = 0.02


def _check_labels(module, batch, y):
    if module.num_classes and y is None:
        raise ValueError(f"{type(module).__name__} is class-conditional ({module.num_classes} classes): "
                         f"give the labels y")
    if not module.num_classes and y is not None:
        raise ValueError(f"{type(module).__name__} is unconditional (num_classes=0): it takes no labels")
    if y is not None and tuple(y.shape) != (batch,):
        raise ValueError(f"{type(module).__name__}: labels y must have shape ({batch},), one per "
                         f"sample, got {tuple(y.shape)}")


class LabelledGenerator(nn.Module):
    """G(z, y): z (N, nz, 1, 1), with num_classes > 0 the labels y (N,) too, whose nz-wide
    embedding is concatenated to z; a subclass maps that input (N, input_width, 1, 1) to images
    in its generate(). Its layers are added after the embedding."""

    def __init__(self, nz, num_classes=0):
        super().__init__()
        self.nz, self.num_classes = nz, num_classes
        if num_classes:
            self.embed = nn.Embedding(num_classes, nz)

    @property
    def input_width(self):
        return 2 * self.nz if self.num_classes else self.nz

    def forward(self, z, y=None):
        _check_labels(self, z.shape[0], y)
        if self.num_classes:
            z = F.cat([z, F.reshape(self.embed(y), z.shape[0], self.nz, 1, 1)], 1)
        return self.generate(z)


class ProjectionDiscriminator(nn.Module):
    """D(image, y) = head(h) (+ <embed(y), flatten(h)> with num_classes > 0), h = features(image)
    of feature_size numbers per image; a subclass gives features(), head() and feature_size.
    Call add_projection() once its layers are made, so that the embedding comes last."""

    num_classes = 0

    def add_projection(self, num_classes):
        self.num_classes = num_classes
        if num_classes:
            self.embed = nn.Embedding(num_classes, self.feature_size)
            init.normal_(self.embed.weight, 0.0, PROJECTION_INIT_STD)

    def forward(self, image, y=None):
        _check_labels(self, image.shape[0], y)
        h = self.features(image)
        logits = self.head(h)
        if self.num_classes:
            logits = logits + F.sum(self.embed(y) * F.flatten(h, 1), 1)
        return logits
