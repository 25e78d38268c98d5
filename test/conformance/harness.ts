/** What every conformance suite takes: a name, and a `create()` that connects the plugin under test. */

/** What `create()` gives beside the plugin under test. */
export interface Harness {
  /** Undoes what `create()` made (connections, servers, temporary files); run once, after the suite. */
  cleanup(): Promise<void>;
}

export interface SuiteOptions<H extends Harness> {
  /** The suite's title: the plugin, and how it is reached. */
  name: string;
  /** Connects the plugin under test, once, before the suite's cases. */
  create(): Promise<H>;
}
