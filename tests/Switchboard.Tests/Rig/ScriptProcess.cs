using System.Diagnostics;

namespace Switchboard.Tests.Rig;

/// <summary>Waits for a rig script (starting or stopping throwaway servers) with a limit.</summary>
public static class ScriptProcess
{
    /// <summary>
    /// Waits up to 15 minutes (a fresh machine may install MariaDB first). A script that hangs (a server that never comes
    /// up) fails the run with a clear error instead of holding it until CI's limit.
    /// </summary>
    public static async Task WaitAsync(Process process, ProcessStartInfo start)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish within 15 minutes");
        }
    }
}
