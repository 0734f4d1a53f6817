// The element, and the IndexedDB prompt store for test/browser/wan-component.test.ts to drive directly.
import '../../src/ui/webdit-video.ts';
import { IndexedDbPromptStore } from '../../src/ui/prompt-store.ts';

(window as unknown as { IndexedDbPromptStore: typeof IndexedDbPromptStore }).IndexedDbPromptStore = IndexedDbPromptStore;
