return await Switchboard.Cli.SwitchboardCli.InvokeAsync(args, Console.Out, Console.Error);
