/** A `thinggate` subcommand contributed by a stage (e.g. `script test` from scripting/). */
export interface Subcommand {
  readonly usage: string;
  /** Takes the arguments after the subcommand's name; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}
