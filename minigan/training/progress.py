"""A one-line progress bar with live losses and throughput, on stderr."""
import sys
import time


class Progress:
    def __init__(self, total, start=0, stream=None):
        self.total, self.start, self.stream = total, start, stream or sys.stderr
        self.started = time.perf_counter()
        self.live = self.stream.isatty()  # redraw in place on a terminal; log lines otherwise
        self.last_line = 0.0

    def update(self, step, record):
        elapsed = time.perf_counter() - self.started
        done = step - self.start
        eta = elapsed / done * (self.total - step) if done else 0.0
        width = 24
        filled = int(width * step / self.total)
        line = (f"step {step}/{self.total} [{'#' * filled}{'.' * (width - filled)}] "
                f"loss_D {record['loss_D']:.3f} loss_G {record['loss_G']:.3f} "
                f"D(x) {record['D(x)']:.2f} D(G(z)) {record['D(G(z))']:.2f} "
                f"{record['images_per_s']:.0f} img/s eta {int(eta) // 60}:{int(eta) % 60:02d}")
        if self.live:
            self.stream.write("\r" + line)
        elif time.perf_counter() - self.last_line > 10 or step == self.total:
            self.stream.write(line + "\n")
            self.last_line = time.perf_counter()
        self.stream.flush()

    def close(self):
        if self.live:
            self.stream.write("\n")
