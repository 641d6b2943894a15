"""The networks: forward/backward shapes, teacher vs student sizes, and that training on a
fixed batch lowers the loss."""

from __future__ import annotations

import pytest
import torch
from canids_models import GATConfig, RunConfig, VGAEConfig
from canids_models.checkpoints import count_parameters
from canids_models.nn import ALPHAS, VGAE, GATClassifier, GraphEncoder, QNetwork
from torch.nn import functional as F

SMALL_GAT = GATConfig(layers=2, heads=2, hidden=8, dropout=0.0, embed_dim=4, mlp_hidden=16)
SMALL_VGAE = VGAEConfig(layers=2, heads=2, hidden=8, latent=4, dropout=0.0, embed_dim=4)


def _grads_ok(model: torch.nn.Module) -> None:
    named = dict(model.named_parameters())
    missing = [n for n, p in named.items() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in named.values())
    # Every layer learns something (embedding rows of absent CAN IDs stay at 0).
    assert sum(int(p.grad.abs().sum() > 0) for p in named.values()) == len(named)


def test_encoder_output_width(batch, model_inputs):
    enc = GraphEncoder(
        **model_inputs, hidden=8, heads=3, layers=2, dropout=0.0, embed_dim=4, backend="pyg"
    )
    h = enc(batch.x, batch.node_id, batch.edge_index, batch.edge_attr)
    assert enc.out_dim == 24
    assert h.shape == (batch.num_nodes, 24)


def test_gat_shapes_and_backward(batch, model_inputs):
    torch.manual_seed(0)
    model = GATClassifier(SMALL_GAT, **model_inputs)
    width = SMALL_GAT.hidden * SMALL_GAT.heads
    emb = model.embed(batch)
    logits = model(batch)
    assert emb.shape == (batch.num_graphs, 2 * width)
    assert logits.shape == (batch.num_graphs,)
    assert logits.dtype == torch.float32
    # forward is head(embed): the embedding is what fusion reads.
    torch.testing.assert_close(model.head(emb).squeeze(-1), logits)
    F.binary_cross_entropy_with_logits(logits, batch.y.float()).backward()
    _grads_ok(model)


def test_gat_graphs_are_independent(train_split, model_inputs):
    """A graph's logit does not depend on the other graphs of its batch."""
    torch.manual_seed(0)
    model = GATClassifier(SMALL_GAT, **model_inputs).eval()
    with torch.no_grad():
        together = model(train_split.collate([3, 40, 77]))
        alone = torch.cat([model(train_split.collate([i])) for i in (3, 40, 77)])
    torch.testing.assert_close(together, alone)


def test_vgae_shapes_and_backward(batch, model_inputs):
    torch.manual_seed(0)
    model = VGAE(SMALL_VGAE, **model_inputs)
    mu, logvar = model.encode(batch)
    assert mu.shape == logvar.shape == (batch.num_nodes, SMALL_VGAE.latent)
    assert logvar.abs().max() <= SMALL_VGAE.logvar_clamp

    loss, parts, z_mu = model.loss(batch, torch.Generator().manual_seed(0))
    assert loss.shape == ()
    assert set(parts) == {"feat", "id", "edge", "edge_neg", "kl"}
    assert all(isinstance(v, float) for v in parts.values())
    assert z_mu.shape == (batch.num_nodes, SMALL_VGAE.latent)
    loss.backward()
    _grads_ok(model)

    model.eval()
    score, comps = model.score(batch)
    assert score.shape == (batch.num_graphs,)
    assert comps.shape == (batch.num_graphs, 6)
    assert torch.isfinite(score).all()
    assert (score >= 0).all()
    assert torch.isfinite(comps).all()
    assert not score.requires_grad


def test_vgae_score_is_deterministic_in_eval(batch, model_inputs):
    torch.manual_seed(0)
    model = VGAE(SMALL_VGAE, **model_inputs).eval()
    a, _ = model.score(batch)
    b, _ = model.score(batch)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_qnetwork_shape():
    q = QNetwork(15, 32)
    out = q(torch.randn(7, 15))
    assert out.shape == (7, 21) == (7, len(ALPHAS))
    assert torch.allclose(ALPHAS, torch.arange(21) * 0.05)
    out.sum().backward()
    assert all(p.grad is not None for p in q.parameters())


def test_teacher_and_student_sizes(model_inputs):
    teacher, student = RunConfig.preset("teacher"), RunConfig.preset("student")
    # The original authors' sizes.
    assert (teacher.gat.layers, teacher.gat.heads, teacher.gat.hidden) == (5, 8, 32)
    assert (teacher.vgae.layers, teacher.vgae.heads, teacher.vgae.hidden) == (3, 4, 32)
    assert (student.gat.layers, student.gat.heads, student.gat.hidden) == (2, 4, 16)
    assert (student.vgae.layers, student.vgae.heads, student.vgae.hidden) == (2, 2, 16)
    gat_t = count_parameters(GATClassifier(teacher.gat, **model_inputs))
    gat_s = count_parameters(GATClassifier(student.gat, **model_inputs))
    vgae_t = count_parameters(VGAE(teacher.vgae, **model_inputs))
    vgae_s = count_parameters(VGAE(student.vgae, **model_inputs))
    dqn_t = count_parameters(QNetwork(15, teacher.dqn.hidden))
    dqn_s = count_parameters(QNetwork(15, student.dqn.hidden))
    assert gat_s <= 0.10 * gat_t, (gat_s, gat_t)
    assert vgae_s < 0.5 * vgae_t, (vgae_s, vgae_t)
    assert dqn_s < dqn_t


def test_gat_loss_decreases_on_a_fixed_batch(batch, model_inputs):
    torch.manual_seed(0)
    model = GATClassifier(SMALL_GAT, **model_inputs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = batch.y.float()
    losses = []
    for _ in range(25):
        loss = F.binary_cross_entropy_with_logits(model(batch), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = F.binary_cross_entropy_with_logits(model(batch), target).item()
    assert final < 0.5 * losses[0], (losses[0], final)
    # It has learnt the batch: every graph on the right side of 0.
    with torch.no_grad():
        assert ((model(batch) > 0) == batch.y.bool()).all()


@pytest.mark.parametrize("distill_latent", [False, True])
def test_vgae_loss_decreases_on_a_fixed_batch(batch, model_inputs, distill_latent):
    torch.manual_seed(0)
    model = VGAE(SMALL_VGAE, **model_inputs)
    params = list(model.parameters())
    teacher_mu = proj = None
    if distill_latent:  # the student's objective: + MSE(proj(mu), teacher mu)
        teacher_mu = torch.randn(batch.num_nodes, 6)
        proj = torch.nn.Linear(SMALL_VGAE.latent, 6)
        params += list(proj.parameters())
    opt = torch.optim.Adam(params, lr=1e-2)

    def objective(train: bool) -> torch.Tensor:
        model.train(train)
        loss, _, mu = model.loss(batch, torch.Generator().manual_seed(7))
        if proj is not None:
            loss = loss + F.mse_loss(proj(mu), teacher_mu)
        return loss

    with torch.no_grad():
        initial = objective(False).item()
    for _ in range(40):
        loss = objective(True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = objective(False).item()
    assert final < 0.9 * initial, (initial, final)
