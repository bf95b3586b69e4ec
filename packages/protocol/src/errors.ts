/**
 * The product's error base. The engine (`@ollama-ring/disruptor`) has its own family,
 * `DisruptorError`; everything the product raises (balancer, gateway, emulator) is an
 * `OllamaRingError` with a stable `code`. Both rest on the engine's generic `BrandedError`, so
 * `instanceof` tests a `Symbol.for` brand and keeps working across copies of a package.
 */
import { BrandedError } from '@ollama-ring/disruptor';

/**
 * Base class of every error the product raises. Subclasses set `static brand` to their own stable
 * code (`ERR_…`) and pass it to the constructor.
 *
 * @example
 * class QuotaError extends OllamaRingError { static override brand = 'ERR_QUOTA'; constructor() { super(QuotaError.brand, 'over quota'); } }
 */
export class OllamaRingError extends BrandedError {
  static override brand = 'ERR_OLLAMA_RING';
}
