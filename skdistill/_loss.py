"""Distillation losses, used as skorch criteria.

Targets are packed into one float tensor per row so that skorch's ordinary
``(X, y)`` batching carries them:

* classification: ``[teacher_logits (k columns), label index, weight]``; the
  label is ``-1`` for rows that carry only the teacher's soft target
  (synthetic or unlabeled rows, or ``y=None``);
* regression: ``[teacher prediction (d), y (d), has_y flag, weight]``.

The last column is the row's weight (``sample_weight`` times the class
weight for real rows, inherited by the synthetic rows made from them, 1 for
unlabeled rows). Each term of a loss is the weighted mean of its rows'
losses, ``sum(w * l) / sum(w)`` over the batch's rows that enter the term, so
that integer weights act as repeated rows and weights of ones are the
unweighted loss.
"""

import torch
import torch.nn.functional as F
from torch import nn

#: What :meth:`DistillationLoss.teacher_fidelity` and
#: :meth:`RegressionDistillationLoss.teacher_fidelity` measure, per task, and
#: whether lower is better. Early stopping can monitor them
#: (``early_stopping="teacher_kl"`` ...) as ``valid_teacher_<name>``.
FIDELITY_METRICS = {
    "classification": {"teacher_kl": True, "teacher_agreement": False},
    "regression": {"teacher_mse": True},
}


def _weighted_mean(values, weights):
    """``sum(weights * values) / sum(weights)``; 0 when the weights sum to 0."""
    total = weights.sum()
    return (weights * values).sum() / torch.where(total > 0, total, torch.ones_like(total))


def distillation_loss(student_logits, teacher_logits, labels, *, temperature, alpha, weights=None):
    """Hinton, Vinyals & Dean (2015) knowledge-distillation loss.

    ``alpha * T**2 * KL(softmax(z_t / T) || softmax(z_s / T))
    + (1 - alpha) * CE(y, z_s)``.

    The KL term is averaged over all rows; the cross-entropy over the rows
    that have a label (``labels >= 0``), so that synthetic rows, which carry
    only the teacher's soft target, do not dilute the hard-label term. With
    ``weights``, both averages are weighted means.

    Parameters
    ----------
    student_logits, teacher_logits : Tensor of shape (n, k)
    labels : Tensor of shape (n,), integer class indices, ``-1`` if none.
    temperature : float > 0
    alpha : float in [0, 1]
    weights : Tensor of shape (n,) or None, default=None
        Non-negative row weights; None weighs every row 1.

    Returns
    -------
    loss : scalar Tensor
    """
    loss = student_logits.new_zeros(())
    if weights is None:
        weights = student_logits.new_ones(student_logits.shape[0])
    if alpha > 0:
        t = float(temperature)
        log_p_student = F.log_softmax(student_logits / t, dim=1)
        log_p_teacher = F.log_softmax(teacher_logits / t, dim=1)
        kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="none").sum(dim=1)
        loss = loss + alpha * t * t * _weighted_mean(kl, weights)
    if alpha < 1:
        labelled = labels >= 0
        if bool(labelled.any()):
            ce = F.cross_entropy(student_logits[labelled], labels[labelled], reduction="none")
            loss = loss + (1 - alpha) * _weighted_mean(ce, weights[labelled])
    return loss


class DistillationLoss(nn.Module):
    """skorch criterion wrapping :func:`distillation_loss`.

    ``target`` is the packed tensor ``[teacher_logits, label, weight]``
    described in the module docstring.
    """

    def __init__(self, temperature=1.0, alpha=0.5):
        super().__init__()
        self.temperature = temperature
        self.alpha = alpha

    def forward(self, student_logits, target):
        return distillation_loss(
            student_logits,
            target[:, :-2],
            target[:, -2].long(),
            temperature=self.temperature,
            alpha=self.alpha,
            weights=target[:, -1],
        )

    def teacher_fidelity(self, student_logits, target):
        """How closely the student follows the teacher on a batch.

        Returns ``{"teacher_kl": sum, "teacher_agreement": sum}`` over the
        batch's rows, weighted by the rows' weights:
        ``KL(softmax(z_teacher) || softmax(z_student))`` at temperature 1 and
        the (weighted) number of rows where both pick the same class. Divide
        by :meth:`row_weight` summed over the rows for means.
        """
        teacher_logits = target[:, :-2]
        w = target[:, -1]
        log_p_student = F.log_softmax(student_logits, dim=1)
        log_p_teacher = F.log_softmax(teacher_logits, dim=1)
        kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="none").sum(dim=1)
        agree = (student_logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).to(w.dtype)
        return {"teacher_kl": float((w * kl).sum()), "teacher_agreement": float((w * agree).sum())}

    @staticmethod
    def row_weight(target):
        """The weights of a batch's rows (the last packed column)."""
        return target[:, -1]


def regression_distillation_loss(
    pred, teacher_pred, y, has_y, *, alpha, loss="squared_error", delta=1.0, weights=None
):
    """``alpha * L(pred, teacher) + (1 - alpha) * L(pred, y)``.

    ``L`` is the squared error (``loss="squared_error"``) or the Huber loss
    (``loss="huber"``, with ``delta``). The teacher term is averaged over all
    rows, the true-target term over the rows with ``has_y``; with ``weights``
    (shape (n,), non-negative), both averages are weighted means.
    """
    if loss == "huber":
        def elementwise(a, b):
            return F.huber_loss(a, b, delta=delta, reduction="none").mean(dim=1)
    else:
        def elementwise(a, b):
            return ((a - b) ** 2).mean(dim=1)

    out = pred.new_zeros(())
    if weights is None:
        weights = pred.new_ones(pred.shape[0])
    if alpha > 0:
        out = out + alpha * _weighted_mean(elementwise(pred, teacher_pred), weights)
    if alpha < 1:
        mask = has_y > 0.5
        if bool(mask.any()):
            out = out + (1 - alpha) * _weighted_mean(elementwise(pred[mask], y[mask]), weights[mask])
    return out


class RegressionDistillationLoss(nn.Module):
    """skorch criterion wrapping :func:`regression_distillation_loss`.

    ``target`` is ``[teacher prediction (d), y (d), has_y, weight]``.
    """

    def __init__(self, alpha=0.5, loss="squared_error", delta=1.0):
        super().__init__()
        self.alpha = alpha
        self.loss = loss
        self.delta = delta

    def forward(self, pred, target):
        d = pred.shape[1]
        return regression_distillation_loss(
            pred,
            target[:, :d],
            target[:, d : 2 * d],
            target[:, 2 * d],
            alpha=self.alpha,
            loss=self.loss,
            delta=self.delta,
            weights=target[:, -1],
        )

    def teacher_fidelity(self, pred, target):
        """``{"teacher_mse": sum}`` over the batch's rows, weighted by the
        rows' weights, of the squared error to the teacher's prediction
        (standardized units, averaged over targets). Divide by
        :meth:`row_weight` summed over the rows for the mean."""
        d = pred.shape[1]
        w = target[:, -1]
        return {"teacher_mse": float((w * ((pred - target[:, :d]) ** 2).mean(dim=1)).sum())}

    @staticmethod
    def row_weight(target):
        """The weights of a batch's rows (the last packed column)."""
        return target[:, -1]
