"""Networks: the shared GATv2 encoder, the GAT classifier, the VGAE and the DQN."""

from .dqn import ALPHAS, QNetwork
from .encoder import GraphEncoder
from .gat import GATClassifier
from .vgae import COMPONENTS, VGAE

__all__ = ["ALPHAS", "COMPONENTS", "VGAE", "GATClassifier", "GraphEncoder", "QNetwork"]
