// The app's one polling loop: read, hand the value (or the error's message)
// over, wait, read again, until the component goes away or its inputs change.
import { useEffect, type DependencyList } from "react";

export function usePoll<T>(
  read: () => Promise<T>,
  everyMs: number,
  onValue: (value: T) => void,
  onError: (message: string) => void,
  deps: DependencyList,
): void {
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const value = await read();
        if (!stopped) onValue(value);
      } catch (e) {
        if (!stopped) onError(e instanceof Error ? e.message : String(e));
      }
      if (!stopped) timer = window.setTimeout(tick, everyMs);
    };
    void tick();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // The caller's deps say when `read` means something new.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}
