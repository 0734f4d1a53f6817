"""Flow-matching samplers matching diffusers' UniPCMultistepScheduler (flow_prediction, use_flow_sigmas,
bh2, order 2, lower_order_final, final sigma 0) and FlowMatchEulerDiscreteScheduler, as Wan's pipeline
uses them. Checked against test/golden/schedulers.json (run this file)."""
import math

import numpy as np
import torch


class UniPC:
    def __init__(self, steps, shift=3.0, order=2, num_train_timesteps=1000):
        s = np.linspace(1.0, 1.0 / num_train_timesteps, steps + 1)[:-1]
        s = shift * s / (1 + (shift - 1) * s)
        if abs(s[0] - 1.0) < 1e-6:
            s[0] -= 1e-6
        self.timesteps = (s * num_train_timesteps).astype(np.int64).astype(np.float64)
        self.sigmas = np.concatenate([s, [0.0]]).astype(np.float32).astype(np.float64)
        self.order = order
        self.steps = steps
        self.model_outputs = [None] * order
        self.last_sample = None
        self.lower_order_nums = 0
        self.i = 0

    @staticmethod
    def _lam(sigma):
        alpha = 1.0 - sigma
        with np.errstate(divide="ignore"):
            return np.log(alpha) - np.log(sigma), alpha, sigma

    def _coeffs(self, h, rks):
        hh = -h
        h_phi_1 = math.expm1(hh) if math.isfinite(hh) else -1.0
        h_phi_k = h_phi_1 / hh - 1.0
        B_h = h_phi_1  # bh2
        fact = 1
        R, b = [], []
        for i in range(1, len(rks) + 1):
            R.append([r ** (i - 1) for r in rks])
            b.append(h_phi_k * fact / B_h)
            fact *= i + 1
            h_phi_k = h_phi_k / hh - 1.0 / fact
        return h_phi_1, B_h, np.array(R), np.array(b)

    def step(self, v, x):
        """v: model output (flow velocity) at self.timesteps[self.i]; x: current sample. Returns next sample."""
        i = self.i
        x0 = x - self.sigmas[i] * v
        if i > 0 and self.last_sample is not None:  # corrector (UniC)
            order = self.this_order
            lt, at, st = self._lam(self.sigmas[i])
            ls0, _, ss0 = self._lam(self.sigmas[i - 1])
            h = lt - ls0
            m0 = self.model_outputs[-1]
            rks, D1s = [], []
            for k in range(1, order):
                lsi, _, _ = self._lam(self.sigmas[i - (k + 1)])
                rk = (lsi - ls0) / h
                rks.append(rk)
                D1s.append((self.model_outputs[-(k + 1)] - m0) / rk)
            rks.append(1.0)
            h_phi_1, B_h, R, b = self._coeffs(h, rks)
            rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, b)
            xt_ = (st / ss0) * self.last_sample - (at * h_phi_1) * m0
            corr = sum(float(rhos_c[k]) * D1s[k] for k in range(len(D1s))) if D1s else 0.0
            x = xt_ - (at * B_h) * (corr + float(rhos_c[-1]) * (x0 - m0))
        self.model_outputs = self.model_outputs[1:] + [x0]
        order = min(self.order, self.steps - i)  # lower_order_final
        order = min(order, self.lower_order_nums + 1)
        self.this_order = order
        self.last_sample = x
        # predictor (UniP)
        lt, at, st = self._lam(self.sigmas[i + 1])
        ls0, _, ss0 = self._lam(self.sigmas[i])
        h = lt - ls0
        m0 = self.model_outputs[-1]
        rks, D1s = [], []
        for k in range(1, order):
            lsi, _, _ = self._lam(self.sigmas[i - k])
            rk = (lsi - ls0) / h
            rks.append(rk)
            D1s.append((self.model_outputs[-(k + 1)] - m0) / rk)
        rks.append(1.0)
        h_phi_1, B_h, R, b = self._coeffs(h, rks)
        xt_ = (st / ss0) * x - (at * h_phi_1) * m0
        if D1s:
            rhos_p = np.array([0.5]) if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1])
            pred = sum(float(rhos_p[k]) * D1s[k] for k in range(len(D1s)))
            x_next = xt_ - (at * B_h) * pred
        else:
            x_next = xt_
        if self.lower_order_nums < self.order:
            self.lower_order_nums += 1
        self.i += 1
        return x_next


class Euler:
    def __init__(self, steps, shift=3.0, num_train_timesteps=1000):
        t = np.linspace(1, num_train_timesteps, num_train_timesteps, dtype=np.float32)[::-1].copy()
        s = t / num_train_timesteps
        s = shift * s / (1 + (shift - 1) * s)
        smax, smin = float(s[0]), float(s[-1])
        ts = np.linspace(smax * num_train_timesteps, smin * num_train_timesteps, steps)
        s = ts / num_train_timesteps
        s = shift * s / (1 + (shift - 1) * s)
        self.timesteps = (s.astype(np.float32) * np.float32(num_train_timesteps)).astype(np.float64)
        self.sigmas = np.concatenate([s, [0.0]]).astype(np.float32).astype(np.float64)
        self.i = 0

    def step(self, v, x):
        x = x + (self.sigmas[self.i + 1] - self.sigmas[self.i]) * v
        self.i += 1
        return x


def make(kind, steps, shift):
    return UniPC(steps, shift) if kind == "unipc" else Euler(steps, shift)


if __name__ == "__main__":
    import json
    d = json.load(open("test/golden/schedulers.json"))
    ok = True
    for c in d["cases"]:
        cfg = c["config"]
        if c["scheduler"] == "UniPCMultistepScheduler":
            s = UniPC(c["steps"], cfg["flow_shift"], cfg["solver_order"])
        else:
            s = Euler(c["steps"], cfg["shift"])
        x = torch.tensor(c["initial"], dtype=torch.float64).view(c["shape"])
        errs = []
        for i, t in enumerate(s.timesteps):
            v = -0.6 * x + 0.05 * torch.sin(3 * x + t / 97) + 0.01 * (i % 3)
            x = s.step(v, x)
            ref = torch.tensor(c["trajectory"][i], dtype=torch.float64).view(c["shape"])
            errs.append(((x - ref).norm() / ref.norm()).item())
        terr = np.abs(s.timesteps - np.array(c["timesteps"])).max()
        serr = np.abs(s.sigmas - np.array(c["sigmas"])).max()
        good = terr == 0 and serr < 1e-6 and max(errs) < 1e-5
        ok &= good
        print(f"{c['scheduler']} steps {c['steps']}: {'OK' if good else 'FAIL'} timesteps err {terr} sigmas err {serr:.1e} "
              f"trajectory max rel err {max(errs):.1e}")
    raise SystemExit(0 if ok else 1)
