print("flowrec")
