// useInput with the handler of the latest render. Ink re-subscribes its handler in a passive effect, which
// may run after the next key arrives; a key would then act on the state of an older render (Enter expanding
// the item the cursor just left). Reading the handler from a ref set at render time avoids that.

import { useInput, type Key } from 'ink';
import { useCallback, useRef } from 'react';

export function useLatestInput(handler: (input: string, key: Key) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useInput(useCallback((input: string, key: Key) => ref.current(input, key), []));
}
