import ArgumentParser
import ShoalCommands

// `shoal-router`: the router alone (`shoal route`), built without the kernels' CPU flags, so that it runs on any
// x86-64 or arm64 Linux whatever CPU built it.
await Route.main()
