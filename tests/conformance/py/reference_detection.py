"""NumPy references of NON_MAX_SUPPRESSION_V4 and V5 (see reference.py), in
float32 as LiteRT's reference/non_max_suppression.h computes them."""

import numpy as np


def _iou(boxes, i, j):
    a, b = boxes[i], boxes[j]
    ay0, ay1 = min(a[0], a[2]), max(a[0], a[2])
    ax0, ax1 = min(a[1], a[3]), max(a[1], a[3])
    by0, by1 = min(b[0], b[2]), max(b[0], b[2])
    bx0, bx1 = min(b[1], b[3]), max(b[1], b[3])
    area_a = np.float32(ay1 - ay0) * np.float32(ax1 - ax0)
    area_b = np.float32(by1 - by0) * np.float32(bx1 - bx0)
    if area_a <= 0 or area_b <= 0:
        return np.float32(0)
    inter = np.float32(max(min(ay1, by1) - max(ay0, by0), 0)) * np.float32(max(min(ax1, bx1) - max(ax0, bx0), 0))
    return np.float32(inter / np.float32(area_a + area_b - inter))


def _nms(boxes, scores, max_out, iou_thr, score_thr, sigma):
    boxes = boxes.astype(np.float32)
    scores = scores.astype(np.float32)
    queue = [[i, scores[i], 0] for i in range(len(scores)) if scores[i] > score_thr]
    n_out = min(len(queue), max_out)
    scale = np.float32(-0.5 / sigma) if sigma > 0 else np.float32(0)
    sel, sel_scores = [], []
    while len(sel) < n_out and queue:
        k = max(range(len(queue)), key=lambda q: (queue[q][1], -queue[q][0]))
        idx, score, begin = queue.pop(k)
        original = score
        hard = False
        for j in range(len(sel) - 1, begin - 1, -1):
            v = _iou(boxes, idx, sel[j])
            if v >= iou_thr:
                hard = True
                break
            if sigma > 0:
                score = np.float32(score * np.exp(np.float32(scale * v * v)))
            if score <= score_thr:
                break
        begin = len(sel)
        if not hard:
            if score == original:
                sel.append(idx)
                sel_scores.append(score)
            elif score > score_thr:
                queue.append([idx, score, begin])
    count = len(sel)
    indices = np.zeros(max_out, np.int32)
    indices[:count] = sel
    out_scores = np.zeros(max_out, np.float32)
    out_scores[:count] = sel_scores
    return indices, out_scores, np.int32(count)


def register(ops, ref):
    def run(soft):
        def f(ctx, op):
            boxes = ctx.val(op.inputs[0])
            scores = ctx.val(op.inputs[1])
            max_out = int(ctx.raw(op.inputs[2]).reshape(-1)[0])
            iou = np.float32(ctx.val(op.inputs[3]).reshape(-1)[0])
            thr = np.float32(ctx.val(op.inputs[4]).reshape(-1)[0])
            sigma = np.float32(ctx.val(op.inputs[5]).reshape(-1)[0]) if soft else np.float32(0)
            idx, sc, n = _nms(boxes, scores, max_out, iou, thr, sigma)
            ctx.store(op.outputs[0], idx)
            if soft:
                ctx.store(op.outputs[1], sc)
            ctx.store(op.outputs[-1], np.array(n, np.int32))
        return f

    ops[ref._BOP.NON_MAX_SUPPRESSION_V4] = run(False)
    ops[ref._BOP.NON_MAX_SUPPRESSION_V5] = run(True)
